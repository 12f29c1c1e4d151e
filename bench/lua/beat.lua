-- Light heartbeats (no `beat` body, §2.7): PUT /nacos/v1/ns/instance/beat, cycling through the
-- instances register.lua numbered [start, start + count) of the same prefix and service count.
--   wrk ... -s beat.lua URL -- threads=T count=N [start=0] [services=1000] [prefix=bench-grow]
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

setup = bench.setup
done = bench.done

local opts, nums, n, services, replay_first

local function make(k)
  local service, ip, port = bench.instance(k, opts.prefix or "bench-grow", services)
  return wrk.format("PUT", "/nacos/v1/ns/instance/beat?serviceName=" .. service
    .. "&clusterName=DEFAULT&ip=" .. ip .. "&port=" .. port, nil, "")
end

function init(args)
  opts = bench.args(args)
  nums = bench.numbers(opts, thread_index or 0)
  n = nums.lo
  replay_first = bench.first_is_discarded(thread_index or 0)
  services = tonumber(opts.services or 1000)
  wrk.headers["User-Agent"] = "Nacos-Java-Client:v1.4.1"
end

function request()
  if replay_first then
    replay_first = false
    return make(n)
  end
  local k = n
  n = n + 1
  if n >= nums.hi then n = nums.lo end
  return make(k)
end
