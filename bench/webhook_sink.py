"""A fast webhook receiver for the bench scripts: asyncio, HTTP/1.1 keep-alive, answers 204 at
once and records, for every request, the wall-clock time (ns) its head arrived and the
lease id and event type of its body. `GET /count/<type>` answers how many of that type
arrived. SIGTERM (or SIGINT) writes the records as TSV to the file given and exits.
Usage: python3 webhook_sink.py PORT OUT.tsv"""

import asyncio
import json
import signal
import sys
import time

records: list[tuple[int, str, str]] = []
counts: dict[str, int] = {}


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            arrived = time.time_ns()
            if head.startswith(b"GET /count/"):
                kind = head.split(b" ", 2)[1][len(b"/count/"):].decode()
                count = str(counts.get(kind, 0)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(count)).encode() + b"\r\n\r\n" + count)
                continue
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip())
            body = await reader.readexactly(length) if length else b""
            try:
                event = json.loads(body)
                kind = event.get("type", "")
                records.append((arrived, event.get("data", {}).get("lease_id", ""), kind))
                counts[kind] = counts.get(kind, 0) + 1
            except ValueError:
                records.append((arrived, "", "unparsable"))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, out: str) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()
    with open(out, "w") as f:
        for arrived, lease, kind in records:
            f.write(f"{arrived}\t{lease}\t{kind}\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
