-- The etcd counterpart of a persistent register: one new key per request through etcd's
-- HTTP/JSON gateway (POST /v3/kv/put, base64 key and value), the value being the instance
-- record a registry keeps for the same ip:port.
--   wrk ... -s etcd_put.lua URL -- threads=T [services=1000]
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

setup = bench.setup
done = bench.done

local opts, nums, n, services, replay_first

local function make(k)
  local service, ip, port = bench.instance(k, "bench-persist", services)
  local key = "/cairn-bench/public/DEFAULT_GROUP@@" .. service .. "/" .. ip .. ":" .. port
  local value = '{"ip":"' .. ip .. '","port":' .. port .. ',"weight":1.0,"healthy":true,'
    .. '"enabled":true,"ephemeral":false,"clusterName":"DEFAULT","serviceName":"DEFAULT_GROUP@@'
    .. service .. '","metadata":{}}'
  return wrk.format("POST", "/v3/kv/put", nil,
    '{"key":"' .. bench.base64(key) .. '","value":"' .. bench.base64(value) .. '"}')
end

function init(args)
  opts = bench.args(args)
  nums = bench.numbers(opts, thread_index or 0)
  n = nums.lo
  replay_first = bench.first_is_discarded(thread_index or 0)
  services = tonumber(opts.services or 1000)
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  if replay_first then
    replay_first = false
    return make(n)
  end
  local k = n
  n = n + nums.step
  return make(k)
end
