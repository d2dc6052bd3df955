-- wrk script: etcd v3 lease grants through its JSON gateway (POST /v3/lease/grant).
wrk.method = "POST"
wrk.body = '{"TTL":300}'
wrk.headers["Content-Type"] = "application/json"
