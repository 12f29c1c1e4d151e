-- Registers distinct instances: POST /nacos/v1/ns/instance with the parameters a Nacos 1.x Java
-- client sends, one new ip:port per request.
--   wrk ... -s register.lua URL -- threads=T conns=C [start=0] [count=0] [services=1000]
--                                  [prefix=bench-reg] [ephemeral=true] [keep=0]
-- count=0: unbounded, wrk's duration ends the run. count>0: exactly that many distinct
-- instances (the driver stops wrk once the registry holds them); keep=1 adds the metadata that
-- keeps them alive under production health timings.
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

local query_tail

bench.numbered {
  -- Once this thread's slice is sent it repeats its last instance (an idempotent update)
  -- until every request of the slice has surely been answered, then stops (response below).
  at_end = "repeat",
  init = function(s)
    local opts, nums = s.opts, s.nums
    query_tail = "&groupName=DEFAULT_GROUP&namespaceId=public&clusterName=DEFAULT&weight=1.0"
      .. "&enable=true&healthy=true&ephemeral=" .. (opts.ephemeral or "true")
      .. (opts.keep == "1" and ("&metadata=" .. bench.keep_alive_metadata) or "")
    wrk.headers["User-Agent"] = "Nacos-Java-Client:v1.4.1"
    if nums.bounded then
      local threads = tonumber(opts.threads or 1)
      local stop_after = (nums.hi - nums.lo) + math.ceil(tonumber(opts.conns or threads) / threads)
      local answered = 0
      response = function()
        answered = answered + 1
        if answered >= stop_after then wrk.thread:stop() end
      end
    end
  end,
  make = function(k, s)
    local service, ip, port = bench.instance(k, s.opts.prefix or "bench-reg", s.services)
    return wrk.format("POST", "/nacos/v1/ns/instance?serviceName=" .. service .. "&ip=" .. ip
      .. "&port=" .. port .. query_tail, nil, "")
  end,
}
