"""A webhook receiver that never answers (issue 8, item 4): it accepts every connection, reads
what comes, and holds the connection open without a response. It counts the connections it
accepted; `kill -USR1` prints the count. Usage: python3 hanging_receiver.py PORT COUNT_FILE"""

import signal
import socket
import sys
import threading

accepted = 0
held: list[socket.socket] = []


def drain(conn: socket.socket) -> None:
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def main(port: int, count_file: str) -> None:
    global accepted
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(4096)

    def write_count(*_: object) -> None:
        with open(count_file, "w") as f:
            f.write(f"{accepted}\n")
    signal.signal(signal.SIGUSR1, write_count)
    signal.signal(signal.SIGTERM, lambda *_: (write_count(), sys.exit(0)))
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        accepted += 1
        held.append(conn)
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
