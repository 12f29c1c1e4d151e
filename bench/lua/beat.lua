-- Light heartbeats (no `beat` body, §2.7): PUT /nacos/v1/ns/instance/beat, cycling through the
-- instances register.lua numbered [start, start + count) of the same prefix and service count.
--   wrk ... -s beat.lua URL -- threads=T count=N [start=0] [services=1000] [prefix=bench-grow]
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

bench.numbered {
  at_end = "wrap",
  init = function()
    wrk.headers["User-Agent"] = "Nacos-Java-Client:v1.4.1"
  end,
  make = function(k, s)
    local service, ip, port = bench.instance(k, s.opts.prefix or "bench-grow", s.services)
    return wrk.format("PUT", "/nacos/v1/ns/instance/beat?serviceName=" .. service
      .. "&clusterName=DEFAULT&ip=" .. ip .. "&port=" .. port, nil, "")
  end,
}
