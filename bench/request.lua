-- wrk script: requests with a bearer token and a JSON body, optionally over several paths
-- and at a steady pace. Arguments after `--`, each NAME=VALUE:
--   method=GET|POST|PATCH  token=<access token>  body=<JSON>
--   paths=<path>,<path>,...  each connection takes them in turn, starting at its own offset
--   interval_ms=<n>          each connection waits n ms after an answer before its next
--                            request (a steady load: c connections make about c*1000/n
--                            requests per second while answers are fast; wrk reports the
--                            rate reached)

local options = {}
local counter = 0

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
  options.interval = tonumber(options.interval_ms or "0")
end

function delay()
  return options.interval
end

function request()
  counter = counter + 1
  if #options.list > 0 then
    return wrk.format(nil, options.list[(counter % #options.list) + 1])
  end
  return wrk.format(nil)
end
