-- wrk script: requests with a bearer token and a JSON body, optionally over several paths
-- and at a steady pace. Arguments after `--`, each NAME=VALUE:
--   method=GET|POST|PATCH  token=<access token>  body=<JSON>
--   paths=<path>,<path>,...  each connection takes them in turn, starting at its own offset
--   rate=<n>                 n requests per second from each wrk thread, on a fixed
--                            schedule (open loop): request k is due at start + k/n, and
--                            whichever connection is free sends it, at once if it is
--                            already due; a slow answer delays no one else's request. It
--                            needs enough connections to have one free at every instant
--                            (c > n * the slowest answer in seconds); wrk reports the
--                            rate reached.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clock, timespec *now);
]]
local CLOCK_MONOTONIC = 1
local now_timespec = ffi.new("timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, now_timespec)
  return tonumber(now_timespec.tv_sec) * 1000 + tonumber(now_timespec.tv_nsec) / 1e6
end

local options = {}
local counter = 0
local period_ms = 0
local next_due_ms = nil

function init(args)
  for _, argument in ipairs(args) do
    local name, value = argument:match("^([%w_]+)=(.*)$")
    if not name then
      error("arguments are NAME=VALUE, got " .. argument)
    end
    options[name] = value
  end
  wrk.method = options.method or "GET"
  if options.token then
    wrk.headers["Authorization"] = "Bearer " .. options.token
  end
  if options.body then
    wrk.body = options.body
    wrk.headers["Content-Type"] = "application/json"
  end
  options.list = {}
  if options.paths then
    for path in options.paths:gmatch("[^,]+") do
      table.insert(options.list, path)
    end
  end
  counter = math.random(1, 1000)
  local rate = tonumber(options.rate or "0")
  if rate > 0 then
    period_ms = 1000 / rate
  end
end

function delay()
  if period_ms == 0 then
    return 0
  end
  local now = now_ms()
  next_due_ms = next_due_ms or now
  local due = next_due_ms
  next_due_ms = next_due_ms + period_ms
  return math.max(0, math.floor(due - now + 0.5))
end

function request()
  counter = counter + 1
  if #options.list > 0 then
    return wrk.format(nil, options.list[(counter % #options.list) + 1])
  end
  return wrk.format(nil)
end
