-- wrk script for the intake benchmark (bench/intake.py): POST /v1/contacts, every body unique.
--
--   wrk -t1 -c64 -d8s --latency -s bench/wrk_contacts.lua URL -- \
--       TEMPLATES KEY ID_PREFIX PHONE_FIRST PHONE_STRIDE COUNT
--
-- TEMPLATES: one JSON body per line (made by `contact_body` in Python), with @ID@ where the
-- channel_message_id goes and @PHONE@ where the caller's phone goes. Thread n (1-based)
-- sends message ids ID_PREFIX-t<n>-<counter> and phones PHONE_FIRST + (n-1)*PHONE_STRIDE +
-- counter; the caller gives each run its own ID_PREFIX and phone range. Why unique: a repeated
-- message id is answered 200 "duplicate" without an append, and a known caller needs no new
-- per-citizen key; either would make the server look faster than it is.
--
-- COUNT=1 tallies response statuses (wrk itself only counts statuses > 399, so a 200 would
-- pass unseen); COUNT=0 sets `response` to nil so that wrk does not parse responses at all.
-- done() prints one line, "wrk-json {...}", that bench/intake.py parses.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

local templates, prefix, phone_first = {}, "", 0
sent, statuses = 0, {}

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then table.insert(templates, line) end
   end
   wrk.method = "POST"
   wrk.headers["Authorization"] = "Bearer " .. args[2]
   wrk.headers["Content-Type"] = "application/json"
   prefix = args[3] .. "-t" .. thread_no .. "-"
   phone_first = tonumber(args[4]) + (thread_no - 1) * tonumber(args[5])
   if args[6] ~= "1" then response = nil end
end

function request()
   sent = sent + 1
   local values = {ID = prefix .. sent, PHONE = string.format("%.0f", phone_first + sent)}
   local body = templates[(sent - 1) % #templates + 1]:gsub("@(%u+)@", values)
   return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

local function object(t)
   local parts = {}
   for k, v in pairs(t) do
      table.insert(parts, string.format('"%s": %.0f', tostring(k), v))
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local all_sent, all_statuses, per_thread = 0, {}, {}
   for _, thread in ipairs(threads) do
      local n = thread:get("sent")
      all_sent = all_sent + n
      table.insert(per_thread, n)
      for status, count in pairs(thread:get("statuses")) do
         all_statuses[status] = (all_statuses[status] or 0) + count
      end
   end
   local quantiles = {}
   for _, q in ipairs({50, 90, 99, 99.9}) do
      quantiles[tostring(q)] = latency:percentile(q)
   end
   io.write(string.format(
      'wrk-json {"requests": %.0f, "duration_us": %.0f, "sent": %.0f, "max_thread_sent": %.0f, '
      .. '"errors": %s, "statuses": %s, "latency_us": %s}\n',
      summary.requests, summary.duration, all_sent, math.max(unpack(per_thread)),
      object(summary.errors), object(all_statuses), object(quantiles)))
end
