-- Shared by the wrk scripts of `make bench`: script arguments, thread numbering, instance naming
-- and the one result line that bench/run.sh parses. wrk loads a script once per thread plus once
-- for setup/done, so everything here is per Lua state.
local M = {}

-- `wrk ... -- key=value ...` arrive in init(args); every script passes them here.
function M.args(args)
  local opts = {}
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then opts[k] = v end
  end
  return opts
end

-- setup() runs in the main state once per thread: give each thread its index.
local next_thread = 0
function M.setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

-- The wrk hooks every script shares: setup (thread numbering) and done (the result line).
function M.hooks()
  setup = M.setup
  done = M.done
end

-- The instances of a run are numbered; number n is a distinct ip:port in service
-- <prefix>-<n mod services>. Addresses are in 127.0.0.0/8 so that nothing (health probes
-- included) ever leaves the machine.
function M.instance(n, prefix, services)
  local hi = math.floor(n / 50000)
  local ip = string.format("127.%d.%d.%d", 1 + math.floor(hi / 62500) % 250,
                           1 + math.floor(hi / 250) % 250, 1 + hi % 250)
  return prefix .. "-" .. (n % services), ip, 10000 + n % 50000
end

-- Which numbers this thread owns: a contiguous slice of [start, start + count) when count > 0,
-- else every threads-th number from start + index (unbounded; wrk's duration bounds the run).
function M.numbers(opts, index)
  local threads = tonumber(opts.threads or 1)
  local start = tonumber(opts.start or 0)
  local count = tonumber(opts.count or 0)
  if count > 0 then
    local per = math.ceil(count / threads)
    local lo = start + index * per
    local hi = math.min(lo + per, start + count)
    return { lo = lo, hi = hi, step = 1, bounded = true }
  end
  return { lo = start + index, hi = math.huge, step = threads, bounded = false }
end

-- wrk calls request() once on thread 0 before the run, to inspect the request, and throws the
-- result away. A script whose requests must all be sent returns its first one twice there.
function M.first_is_discarded(index)
  return index == 0
end

-- A script that sends one numbered instance per request (register, beat, etcd_put): installs
-- the hooks and wrk's init() and request(). spec.make(k, state) builds the request of instance k;
-- spec.init(state), when given, ends init(); spec.at_end says what a thread does past the end
-- of a bounded slice: "wrap" (start it over) or "repeat" (resend its last instance). state holds
-- opts (the script arguments), nums (this thread's numbers) and services.
function M.numbered(spec)
  M.hooks()
  local state = {}
  local n, replay_first
  init = function(args)
    local index = thread_index or 0
    state.opts = M.args(args)
    state.nums = M.numbers(state.opts, index)
    state.services = tonumber(state.opts.services or 1000)
    n = state.nums.lo
    replay_first = M.first_is_discarded(index)
    if spec.init then spec.init(state) end
  end
  request = function()
    if replay_first then
      replay_first = false
      return spec.make(n, state)
    end
    local k = n
    if k >= state.nums.hi then
      k = state.nums.hi - 1
    else
      n = n + state.nums.step
      if n >= state.nums.hi and spec.at_end == "wrap" then n = state.nums.lo end
    end
    return spec.make(k, state)
  end
end

-- Metadata that keeps prefilled instances alive for an hour under production health timings
-- (the benchmark does not beat them), in the JSON form the Java client sends, URL-encoded.
M.keep_alive_metadata = "%7B%22preserved.heart.beat.timeout%22%3A%223600000%22%2C"
  .. "%22preserved.ip.delete.timeout%22%3A%223600000%22%7D"

-- Standard base64 (RFC 4648) for etcd's JSON gateway, which wants keys and values encoded:
-- wrk's LuaJIT has no library for it.
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = {}
    for j = 1, 4 do
      local idx = math.floor(n / 2 ^ (6 * (4 - j))) % 64
      chars[j] = alphabet:sub(idx + 1, idx + 1)
    end
    if not b then chars[3] = "=" end
    if not c then chars[4] = "=" end
    out[#out + 1] = table.concat(chars)
  end
  return table.concat(out)
end

-- The result line: throughput, latency percentiles (microseconds) and errors.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p99_us=%d errors=%d status_errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end

return M
