-- wrk script: POST distinct pre-signed NCS bodies (one per line of the file given as the first
-- script argument: "<Agora-Signature-V2>\t<body>"), each thread taking its own share so no body
-- is sent twice; counts 200s so the caller can check every 200 was stored.
--
-- Arguments: BODIES NTHREADS [then-read]. With "then-read", every POST is followed by a
-- GET /v1/sessions/{sid} of the session it just reported, as a dashboard watching live
-- recordings does (a 404 then is a read that overtook its session's first event on another
-- connection, and counts as answered).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(args[2])
  then_read = args[3] == "then-read"
  bodies, sigs, sids = {}, {}, {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
      if then_read then sids[#sids + 1] = bodies[#bodies]:match('"sid":"([^"]+)"') end
    end
    i = i + 1
  end
  idx, read_next, ok, other, wrapped = 0, false, 0, 0, 0
end

function request()
  if read_next then
    read_next = false
    return wrk.format("GET", "/v1/sessions/" .. sids[idx])
  end
  read_next = then_read
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
  if status == 200 or (then_read and status == 404) then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local tok, tother, twrap = 0, 0, 0
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tother = tother + t:get("other")
    twrap = twrap + t:get("wrapped")
  end
  io.write(string.format("RESULT ok=%d non200=%d wrapped=%d rps=%.1f p50_us=%d p99_us=%d p999_us=%d\n",
    tok, tother, twrap, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
