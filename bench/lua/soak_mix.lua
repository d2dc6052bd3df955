-- wrk script for bench/soak.sh: lease grant + release round trips against pinleased, with a
-- share of grants that are never released and expire instead (short TTL, no grace). Each wrk
-- thread keeps the ids its kept grants returned; the next request on any of its connections
-- releases one of them, otherwise it grants a new lease. Every EXPIRE_EVERY-th grant (default
-- 10) has ttl_s SHORT_TTL (default 2) and grace_s 0, and is left to expire. Needs PIN_ID and
-- TOKEN in the environment.
local pin_id = os.getenv("PIN_ID")
local token = os.getenv("TOKEN")
local expire_every = tonumber(os.getenv("EXPIRE_EVERY") or "10")
local short_ttl = tonumber(os.getenv("SHORT_TTL") or "2")
local kept_body = '{"pin_id":"' .. pin_id .. '","holder":"soak","ttl_s":300}'
local short_body = '{"pin_id":"' .. pin_id .. '","holder":"soak-expiring","ttl_s":' .. short_ttl .. ',"grace_s":0}'
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local ids = {}
local grants = 0

function request()
  local id = table.remove(ids)
  if id then
    return wrk.format("POST", "/v1/leases/" .. id .. "/release", headers, "")
  end
  grants = grants + 1
  if grants % expire_every == 0 then
    return wrk.format("POST", "/v1/leases", headers, short_body)
  end
  return wrk.format("POST", "/v1/leases", headers, kept_body)
end

function response(status, headers, body)
  if status == 201 and not body:find('"holder":"soak%-expiring"') then
    local id = body:match('"id":"(lease_%x+)"')
    if id then table.insert(ids, id) end
  end
end
