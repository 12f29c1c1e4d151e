-- The etcd counterpart of a persistent register: one new key per request through etcd's
-- HTTP/JSON gateway (POST /v3/kv/put, base64 key and value), the value being the instance
-- record a registry keeps for the same ip:port.
--   wrk ... -s etcd_put.lua URL -- threads=T [services=1000]
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

bench.numbered {
  init = function()
    wrk.headers["Content-Type"] = "application/json"
  end,
  make = function(k, s)
    local service, ip, port = bench.instance(k, "bench-persist", s.services)
    local key = "/cairn-bench/public/DEFAULT_GROUP@@" .. service .. "/" .. ip .. ":" .. port
    local value = '{"ip":"' .. ip .. '","port":' .. port .. ',"weight":1.0,"healthy":true,'
      .. '"enabled":true,"ephemeral":false,"clusterName":"DEFAULT","serviceName":"DEFAULT_GROUP@@'
      .. service .. '","metadata":{}}'
    return wrk.format("POST", "/v3/kv/put", nil,
      '{"key":"' .. bench.base64(key) .. '","value":"' .. bench.base64(value) .. '"}')
  end,
}
