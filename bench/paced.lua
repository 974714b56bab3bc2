-- wrk script: bench/ingest.lua at a set pace instead of as fast as possible. Each connection
-- waits PACE_MS before each request, so C connections send about C * 1000 / PACE_MS requests
-- a second (a little less: the answer's own time adds to each wait), and the latencies are
-- those of a server that is not saturated.
--
-- Arguments: BODIES NTHREADS PACE_MS
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "ingest.lua")

local ingest_init = init
function init(args)
  ingest_init({ args[1], args[2] })
  pace_ms = tonumber(args[3])
end

function delay()
  return pace_ms
end
