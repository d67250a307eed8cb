-- wrk: POST the JSON body stored in the file WRK_BODY_FILE, as the mini-program posts to /graphql,
-- with WRK_AUTHORIZATION as the Authorization header when it is set. Connections are kept alive.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.body = file:read("*a")
file:close()
local authorization = os.getenv("WRK_AUTHORIZATION")
if authorization ~= nil and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
