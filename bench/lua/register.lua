-- Registers distinct instances: POST /nacos/v1/ns/instance with the parameters a Nacos 1.x Java
-- client sends, one new ip:port per request.
--   wrk ... -s register.lua URL -- threads=T conns=C [start=0] [count=0] [services=1000]
--                                  [prefix=bench-reg] [ephemeral=true] [keep=0]
-- count=0: unbounded, wrk's duration ends the run. count>0: exactly that many distinct
-- instances (the driver stops wrk once the registry holds them); keep=1 adds the metadata that
-- keeps them alive under production health timings.
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

setup = bench.setup
done = bench.done

local opts, nums, n, services, query_tail, replay_first

local function make(k)
  local service, ip, port = bench.instance(k, opts.prefix or "bench-reg", services)
  return wrk.format("POST", "/nacos/v1/ns/instance?serviceName=" .. service .. "&ip=" .. ip
    .. "&port=" .. port .. query_tail, nil, "")
end

function init(args)
  opts = bench.args(args)
  nums = bench.numbers(opts, thread_index or 0)
  n = nums.lo
  replay_first = bench.first_is_discarded(thread_index or 0)
  services = tonumber(opts.services or 1000)
  query_tail = "&groupName=DEFAULT_GROUP&namespaceId=public&clusterName=DEFAULT&weight=1.0"
    .. "&enable=true&healthy=true&ephemeral=" .. (opts.ephemeral or "true")
    .. (opts.keep == "1" and ("&metadata=" .. bench.keep_alive_metadata) or "")
  wrk.headers["User-Agent"] = "Nacos-Java-Client:v1.4.1"
  if nums.bounded then
    -- Once this thread's slice is sent it repeats its last instance (an idempotent update)
    -- until every request of the slice has surely been answered, then stops.
    local threads = tonumber(opts.threads or 1)
    local stop_after = (nums.hi - nums.lo) + math.ceil(tonumber(opts.conns or threads) / threads)
    local answered = 0
    response = function()
      answered = answered + 1
      if answered >= stop_after then wrk.thread:stop() end
    end
  end
end

function request()
  if replay_first then
    replay_first = false
    return make(n)
  end
  local k = n
  if k >= nums.hi then
    k = nums.hi - 1
  else
    n = n + nums.step
  end
  return make(k)
end
