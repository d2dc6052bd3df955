-- wrk script: grants COUNT leases on PIN_ID (long TTL, so they stay live) and stops. Each of
-- wrk's THREADS threads grants its share; a thread stops once its share was answered 201.
-- Needs PIN_ID, TOKEN, COUNT and THREADS in the environment.
local pin_id = os.getenv("PIN_ID")
local token = os.getenv("TOKEN")
local share = math.ceil(tonumber(os.getenv("COUNT")) / tonumber(os.getenv("THREADS")))
local granted, failures = 0, 0
wrk.method = "POST"
wrk.body = '{"pin_id":"' .. pin_id .. '","holder":"fill","ttl_s":86400}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

function response(status, headers, body)
  if status == 201 then granted = granted + 1 else failures = failures + 1 end
  if granted >= share or failures > 1000 then wrk.thread:stop() end
end
