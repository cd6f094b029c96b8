-- wrk script: one request, the same every time, with a bearer token and a JSON body.
-- Arguments after `--`: METHOD TOKEN [BODY] (TOKEN "-" for none)

function init(args)
  local method, token, body = args[1], args[2], args[3]
  if not (method and token) then
    error("usage: wrk ... -s request.lua URL -- METHOD TOKEN [BODY]")
  end
  wrk.method = method
  if token ~= "-" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  if body then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
  end
end
