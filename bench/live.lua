-- wrk script: live recordings watched while they report. Alternates, per wrk thread, a POST of
-- the next pre-signed body (file as in ingest.lua; its events go round-robin over a few
-- sessions in sequence order) with a GET /v1/sessions/{sid} of the session it just reported,
-- as a dashboard polling the recordings it shows does.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  bodies, sigs, sids = {}, {}, {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
      sids[#sids + 1] = bodies[#bodies]:match('"sid":"([^"]+)"')
    end
    i = i + 1
  end
  idx, post, ok, other, wrapped = 0, false, 0, 0, 0
end

function request()
  post = not post
  if not post then
    return wrk.format("GET", "/v1/sessions/" .. sids[idx])
  end
  idx = idx + 1
  if idx > #bodies then
    idx = 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", "/ncs", {
    ["Content-Type"] = "application/json",
    ["Agora-Signature-V2"] = sigs[idx],
  }, bodies[idx])
end

function response(status, headers, body)
  -- A 404 is a read that overtook its session's first event on another connection.
  if status == 200 or status == 404 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local tok, tother, twrap = 0, 0, 0
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tother = tother + t:get("other")
    twrap = twrap + t:get("wrapped")
  end
  io.write(string.format("RESULT ok=%d non200=%d wrapped=%d rps=%.1f p50_us=%d p99_us=%d\n",
    tok, tother, twrap, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99)))
end
