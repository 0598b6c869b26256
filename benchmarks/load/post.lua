-- wrk script: POST one distinct check body per request, cycling through a file of bodies
-- (one JSON body per line), so that no request is refused as a replay.
local bodies = {}
local next_body = 1

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  -- Each wrk thread starts at its own offset, so two threads never send the same check.
  next_body = 1 + (tonumber(args[2] or "0") % #bodies)
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  io.write(string.format("latency_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("latency_p99_us %d\n", latency:percentile(99)))
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("duration_us %d\n", summary.duration))
end
