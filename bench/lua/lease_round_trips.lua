-- wrk script: lease grant + release round trips against pinleased. Each wrk thread keeps the
-- ids its grants returned; the next request on any of its connections releases one of them,
-- otherwise it grants a new lease. So every grant is followed by its release, and the
-- connections stay busy with an even mix. Needs PIN_ID and TOKEN in the environment.
local pin_id = os.getenv("PIN_ID")
local token = os.getenv("TOKEN")
local grant_body = '{"pin_id":"' .. pin_id .. '","holder":"bench","ttl_s":300}'
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
local ids = {}
local grants, releases, failures = 0, 0, 0

function request()
  local id = table.remove(ids)
  if id then
    releases = releases + 1
    return wrk.format("POST", "/v1/leases/" .. id .. "/release", headers, "")
  end
  grants = grants + 1
  return wrk.format("POST", "/v1/leases", headers, grant_body)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":"(lease_%x+)"')
    if id then table.insert(ids, id) end
  elseif status ~= 200 then
    failures = failures + 1
  end
end
