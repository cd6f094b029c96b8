-- wrk script: log in (POST to the URL given to wrk) with JSON credentials, cycling over
-- the benchmark's pool of users.
-- Arguments after `--`: EMAIL_TEMPLATE (with one %d, numbered from 0) POOL_SIZE PASSWORD

local bodies = {}
local next_body = 1

local function json_string(value)
  return '"' .. value:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function init(args)
  local template, size, password = args[1], tonumber(args[2]), args[3]
  if not (template and size and password) then
    error("usage: wrk ... -s login.lua URL -- EMAIL_TEMPLATE POOL_SIZE PASSWORD")
  end
  for i = 1, size do
    local email = string.format(template, i - 1)
    bodies[i] = '{"email":' .. json_string(email) .. ',"password":' .. json_string(password) .. "}"
  end
  -- Threads start at different users, so that they do not log in the same one at once.
  next_body = math.random(size)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end
