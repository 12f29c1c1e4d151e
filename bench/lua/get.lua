-- The same GET (the URL given to wrk) on every request, as a Java client's user agent. No
-- request() function: wrk sends one pre-built request, its fastest path.
package.path = (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua;" .. package.path
local bench = require "bench"

bench.hooks()
wrk.headers["User-Agent"] = "Nacos-Java-Client:v1.4.1"
