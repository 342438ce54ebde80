-- wrk: a different forecast request per call (BENCH_MODE: one, all, m3), bearer key from
-- the environment. one: one random series of the sample, random h (6-18) and regressor
-- plan; all: the same for all five series; m3: one random series of BENCH_SERIES
-- (comma-separated), random h (1-36) and a random first level.
local key = os.getenv("BENCH_KEY")
local mode = os.getenv("BENCH_MODE") or "one"
local sample = {"healthcare", "telecom", "banking", "technology", "insurance"}
local m3 = {}
for id in string.gmatch(os.getenv("BENCH_SERIES") or "", "[^,]+") do m3[#m3 + 1] = id end
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
end

local function plan(h)
  local lines, channels = {}, {}
  for i = 1, h do
    lines[i] = string.format("%.2f", 30 + math.random() * 90)
    channels[i] = tostring(math.random(1, 8))
  end
  return '"regressors":{"phone_lines":[' .. table.concat(lines, ",") ..
         '],"channels":[' .. table.concat(channels, ",") .. ']}'
end

function request()
  local body
  if mode == "m3" then
    body = '{"series":["' .. m3[math.random(#m3)] .. '"],"h":' .. math.random(1, 36) ..
           ',"level":[' .. math.random(50, 94) .. ',95]}'
  else
    local h = math.random(6, 18)
    local series = ""
    if mode == "one" then series = '"series":["' .. sample[math.random(#sample)] .. '"],' end
    body = '{' .. series .. '"h":' .. h .. ',"level":[80,95],' .. plan(h) .. '}'
  end
  return wrk.format("POST", "/v1/forecast", headers, body)
end
