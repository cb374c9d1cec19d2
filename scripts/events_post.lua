-- wrk script for scripts/bench-events-http.sh: replays pre-signed, distinct deploy events.
-- WRK_EVENTS names a file with one request per line: "<timestamp>\t<signature>\t<JSON body>".
-- Each wrk thread takes every n-th line (n = thread count) and sends its lines in turn, so no event
-- id is sent twice unless a thread runs out of lines (then it starts over: the events count as
-- duplicates, and the script's check of stored rows shows it).
local path = assert(os.getenv("WRK_EVENTS"), "WRK_EVENTS not set")
local source = os.getenv("WRK_SOURCE") or "ci"
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-Idp-Source"] = source,
        ["X-Idp-Timestamp"] = ts,
        ["X-Idp-Signature"] = sig,
      }, body)
    end
    i = i + 1
  end
  cursor = 0
  non200 = 0
  wrapped = 0
end

function request()
  cursor = cursor + 1
  if cursor > #requests then
    cursor = 1
    wrapped = wrapped + 1
  end
  return requests[cursor]
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local non200_total, wrapped_total = 0, 0
  for _, t in ipairs(threads) do
    non200_total = non200_total + (t:get("non200") or 0)
    wrapped_total = wrapped_total + (t:get("wrapped") or 0)
  end
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f non200=%d wrapped=%d " ..
    "connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, non200_total, wrapped_total,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
