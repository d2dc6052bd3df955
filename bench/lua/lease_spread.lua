-- wrk script: grants exactly COUNT leases spread over many pins and holders, then stops (as
-- lease_fill.lua does; it prints GRANTED n, the 201 answers). Request i of thread t goes to
-- pin i*THREADS+t mod #pins, holder HOLDER_PREFIX (default "h") .. (same mod HOLDERS), so every holder gets an even share.
-- Needs TOKEN, PIN_FILE (pin ids, one a line), COUNT, THREADS, HOLDERS and TTL_S in the
-- environment; GRACE_S and HOLDER_PREFIX are optional.
local token = os.getenv("TOKEN")
local holders = tonumber(os.getenv("HOLDERS"))
local threads = tonumber(os.getenv("THREADS"))
local ttl = os.getenv("TTL_S")
local grace = os.getenv("GRACE_S")
local prefix = os.getenv("HOLDER_PREFIX") or "h"
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local pins = {}
for line in io.lines(os.getenv("PIN_FILE")) do
  if line ~= "" then table.insert(pins, line) end
end
local count = tonumber(os.getenv("COUNT"))
local threads_list = {}

-- Thread t grants its exact share (the shares add up to COUNT); once it has sent them, its
-- connections ask GET /healthz until the last grant is answered, so nothing more is granted.
-- Should a grant's answer be lost (a connection dropped), the thread stops after many
-- /healthz answers instead: the caller counts the leases in GET /v1/status.
function setup(thread)
  local t = #threads_list
  table.insert(threads_list, thread)
  thread:set("offset", t)
  thread:set("share", math.floor(count / threads) + ((t < count % threads) and 1 or 0))
end

sent, granted, answered, idle = 0, 0, 0, 0

-- wrk calls request() once in the first thread's state to check it, and never sends that one.
verified = false

function request()
  if offset == 0 and not verified then
    verified = true
    return wrk.format("GET", "/healthz")
  end
  if sent >= share then return wrk.format("GET", "/healthz") end
  local i = sent * threads + offset
  sent = sent + 1
  local body = '{"pin_id":"' .. pins[(i % #pins) + 1] .. '","holder":"' .. prefix .. (i % holders)
    .. '","ttl_s":' .. ttl
  if grace and grace ~= "" then body = body .. ',"grace_s":' .. grace end
  return wrk.format("POST", "/v1/leases", headers, body .. "}")
end

function response(status, headers, body)
  if status == 200 then idle = idle + 1 else answered = answered + 1 end
  if status == 201 then granted = granted + 1 end
  if answered >= share or idle > 20000 then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads_list) do total = total + thread:get("granted") end
  io.write("GRANTED " .. total .. "\n")
end
