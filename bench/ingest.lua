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
  nthreads = tonumber(args[2])
  then_read = args[3] == "then-read"
  -- The bodies are read from the file as they are sent, not loaded first. Loaded into a table
  -- (hundreds of MB), each was touched again only when sent, seconds later, and on this
  -- machine touching memory left alone that long stalls the load generator itself: the
  -- do-nothing server measured p99 80-140 ms that way, against 1-3 ms read as it goes.
  -- Thread t sends lines t, t + n, t + 2n, ...: a session's events stay in sequence order, as
  -- each thread sends them (a range of the file per thread would send late sequence numbers
  -- of every session first).
  file = assert(io.open(args[1], "r"))
  rewind()
  sid, read_next, ok, other, wrapped = nil, false, 0, 0, 0
end

-- Back to this thread's first line.
function rewind()
  file:seek("set", 0)
  for _ = 1, tid do file:read("*l") end
end

-- This thread's next line; after the last, its first again (a duplicate: counted).
local function next_line()
  local line = file:read("*l")
  if not line then
    rewind()
    wrapped = wrapped + 1
    line = file:read("*l")
  end
  for _ = 2, nthreads do file:read("*l") end
  return line
end

function request()
  if read_next then
    read_next = false
    return wrk.format("GET", "/v1/sessions/" .. sid)
  end
  read_next = then_read
  local line = next_line()
  local tab = line:find("\t", 1, true)
  local body = line:sub(tab + 1)
  if then_read then sid = body:match('"sid":"([^"]+)"') end
  return wrk.format("POST", "/ncs", {
    ["Content-Type"] = "application/json",
    ["Agora-Signature-V2"] = line:sub(1, tab - 1),
  }, body)
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
