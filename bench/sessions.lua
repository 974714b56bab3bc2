-- wrk script: GET /v1/sessions/{sid} for sids from the file given as first argument: random ones,
-- or with "each N" as further arguments every sid in turn, each of the N wrk threads taking its own
-- share (for warming up).
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  sids = {}
  for line in io.lines(args[1]) do sids[#sids + 1] = line end
  each = args[2] == "each"
  nthreads = tonumber(args[3] or "1")
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  idx = tid or 0
  ok, other = 0, 0
end

function request()
  local sid
  if each then
    sid = sids[idx % #sids + 1]
    idx = idx + nthreads
  else
    sid = sids[math.random(#sids)]
  end
  return wrk.format("GET", "/v1/sessions/" .. sid)
end

function response(status)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
