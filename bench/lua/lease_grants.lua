-- wrk script: lease grants only against pinleased (POST /v1/leases on one pin, long TTL), so
-- every grant adds a live lease. Needs PIN_ID and TOKEN in the environment.
local pin_id = os.getenv("PIN_ID")
local token = os.getenv("TOKEN")
local holder = os.getenv("HOLDER") or "bench"
local body = '{"pin_id":"' .. pin_id .. '","holder":"' .. holder .. '","ttl_s":86400}'
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
