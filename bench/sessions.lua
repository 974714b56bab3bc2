-- wrk script: GET /v1/sessions/{sid} for random sids from the file given as first argument.
function init(args)
  sids = {}
  for line in io.lines(args[1]) do sids[#sids + 1] = line end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  ok, other = 0, 0
end

function request()
  return wrk.format("GET", "/v1/sessions/" .. sids[math.random(#sids)])
end

function response(status)
  if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
