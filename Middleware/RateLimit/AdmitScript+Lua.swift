import GatewayCore

extension RateLimitScripts {
    /// Lua helpers both scripts start with: integer formatting (Lua 5.1 would print big numbers
    /// as 1.7e+15) and the UTC calendar of `CalendarPeriod`, step for step.
    static let luaPrelude = SlidingWindow.lua + """
        local function int(x) return string.format('%d', x) end
        local day_us = 86400000000
        local function civil(d)
          local z = d + 719468
          local era = math.floor(z / 146097)
          local doe = z - era * 146097
          local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
          local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
          local mp = math.floor((5 * doy + 2) / 153)
          local m = mp < 10 and mp + 3 or mp - 9
          local y = yoe + era * 400
          if m <= 2 then y = y + 1 end
          return y, m
        end
        local function days_from_civil(y, m, d)
          if m <= 2 then y = y - 1 end
          local era = math.floor(y / 400)
          local yoe = y - era * 400
          local mm = m > 2 and m - 3 or m + 9
          local doy = math.floor((153 * mm + 2) / 5) + d - 1
          return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
        end
        local function periods(now)
          local days = math.floor(now / day_us)
          local y, m = civil(days)
          local ny, nm = y, m + 1
          if m == 12 then ny, nm = y + 1, 1 end
          return days, (days + 1) * day_us - now, y * 12 + m - 1, days_from_civil(ny, nm, 1) * day_us - now
        end
        local function server_now()
          local time = redis.call('TIME')
          return tonumber(time[1]) * 1000000 + tonumber(time[2])
        end

        """

    /// The Lua body of `admit`; `admitNative` is its twin, line for line.
    static let admitLua = luaPrelude + """
        local base = KEYS[1]
        local lease = ARGV[1]
        local reserve = tonumber(ARGV[2])
        local lease_us = tonumber(ARGV[3])
        local retention_us = tonumber(ARGV[4])
        local count = tonumber(ARGV[5])
        if #KEYS ~= 1 or not reserve or not lease_us or not retention_us or not count or #ARGV ~= 5 + 3 * count then
          return redis.error_reply('\(errorText(badArguments))')
        end
        local now = server_now()
        local days, day_left, month, month_left = periods(now)
        local reply = {1, 0, 0, now}
        local available = {}
        local writes = {}
        for i = 1, count do
          local at = 5 + (i - 1) * 3
          local kind = tonumber(ARGV[at + 1])
          local limit = tonumber(ARGV[at + 2])
          local param = tonumber(ARGV[at + 3])
          local ok, remaining, reset, retry, avail = false, 0, 0, 0, 0
          if kind == 1 or kind == 2 then
            local cost, prefix = 1, 'r'
            if kind == 2 then cost, prefix = reserve, 't' end
            local window = param
            local index = math.floor(now / window)
            local left = window - (now - index * window)
            local key = base .. prefix .. int(window / 1000000) .. ':'
            local current = tonumber(redis.call('GET', key .. int(index)) or '0') or 0
            local previous = tonumber(redis.call('GET', key .. int(index - 1)) or '0') or 0
            ok, remaining, avail, reset, retry = sliding_window(limit, window, previous, current, cost, left)
            if ok then writes[i] = {key .. int(index), cost, math.ceil((left + window) / 1000)} end
          elseif kind == 3 then
            local full = math.max(1, limit) * 1000000
            local rate = math.max(1, param)
            local state = redis.call('HMGET', base .. 'b', 't', 'at')
            local tokens, last = full, now
            if state[1] then tokens, last = tonumber(state[1]), tonumber(state[2]) end
            local elapsed = math.max(0, now - last)
            tokens = math.min(full, tokens + math.floor(elapsed * rate / 60))
            avail = math.floor(tokens / 1000000)
            if tokens >= 1000000 then
              tokens = tokens - 1000000
              ok, remaining = true, math.floor(tokens / 1000000)
              reset = math.ceil((full - tokens) * 60 / rate)
              writes[i] = {tokens, reset}
            else
              retry = math.ceil((1000000 - tokens) * 60 / rate)
              reset = math.ceil((full - tokens) * 60 / rate)
            end
          elseif kind == 4 then
            local key = base .. 'c'
            local live = redis.call('HLEN', key)
            if live >= limit then
              local leases = redis.call('HGETALL', key)
              for j = 1, #leases, 2 do
                if tonumber(leases[j + 1]) <= now then
                  redis.call('HDEL', key, leases[j])
                  live = live - 1
                end
              end
            end
            avail = math.max(0, limit - live)
            if live < limit then
              ok, remaining = true, limit - live - 1
              writes[i] = true
            else
              retry = \(ConcurrencyLimit.retryMicros)
            end
          else
            local key, left = base .. 'd:' .. int(days), day_left
            if kind == 6 or kind == 8 then key, left = base .. 'm:' .. int(month), month_left end
            local used, cost = 0, 0
            if kind <= 6 then
              local f = redis.call('HMGET', key, 'prompt_tokens', 'completion_tokens', 'reserved_tokens')
              used = (tonumber(f[1]) or 0) + (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0)
              cost = reserve
            else
              used = tonumber(redis.call('HGET', key, 'cost_nanos') or '0') or 0
            end
            if cost > 0 then ok = used + cost <= limit else ok = used < limit end
            avail = math.max(0, limit - used)
            if ok then remaining = math.max(0, limit - used - cost) else remaining = math.max(0, limit - used) end
            reset = left
            if ok then
              if cost > 0 then writes[i] = key end
            elseif cost > limit then
              retry = -1
            else
              retry = left
            end
          end
          reply[4 + 2 * i - 1] = remaining
          reply[4 + 2 * i] = reset
          available[i] = avail
          if not ok then
            reply[1] = 0
            if reply[2] == 0 or (retry == -1 and reply[3] ~= -1) or (reply[3] ~= -1 and retry > reply[3]) then
              reply[2], reply[3] = i, retry
            end
          end
        end
        if reply[1] == 0 then
          for i = 1, count do reply[4 + 2 * i - 1] = available[i] end
          return reply
        end
        for i = 1, count do
          local w = writes[i]
          local kind = tonumber(ARGV[5 + (i - 1) * 3 + 1])
          if kind == 1 or kind == 2 then
            -- The counter's lifetime is set once, by the request that created it.
            if redis.call('INCRBY', w[1], int(w[2])) == w[2] then redis.call('PEXPIRE', w[1], int(w[3])) end
          elseif kind == 3 then
            redis.call('HSET', base .. 'b', 't', int(w[1]), 'at', int(now))
            redis.call('PEXPIRE', base .. 'b', int(math.ceil(w[2] / 1000) + 1))
          elseif kind == 4 then
            redis.call('HSET', base .. 'c', lease, int(now + lease_us))
            redis.call('PEXPIRE', base .. 'c', int(math.ceil(lease_us / 1000)))
          elseif w then
            redis.call('HINCRBY', w, 'reserved_tokens', int(reserve))
            redis.call('PEXPIRE', w, int(math.ceil(retention_us / 1000)))
          end
        end
        return reply
        """

    /// The Lua body of `settle`; `settleNative` is its twin. One call settles a batch.
    static let settleLua = luaPrelude + """
        local n = tonumber(ARGV[1])
        if not n or #KEYS ~= n then return redis.error_reply('\(errorText(badArguments))') end
        local p = 1
        local now = nil
        for e = 1, n do
          local base = KEYS[e]
          local lease = ARGV[p + 1]
          local at = tonumber(ARGV[p + 2])
          local reserved = tonumber(ARGV[p + 3])
          local prompt = tonumber(ARGV[p + 4])
          local completion = tonumber(ARGV[p + 5])
          local cost = tonumber(ARGV[p + 6])
          local retention_us = tonumber(ARGV[p + 7])
          local count = tonumber(ARGV[p + 8])
          if not at or not reserved or not prompt or not completion or not cost or not retention_us or not count
              or #ARGV < p + 8 + 3 * count then
            return redis.error_reply('\(errorText(badArguments))')
          end
          if at == 0 then
            if not now then now = server_now() end
            at = now
          end
          if lease ~= '' then redis.call('HDEL', base .. 'c', lease) end
          local delta = prompt + completion - reserved
          local days, _, month = periods(at)
          local quota_day, quota_month, monthly = false, false, false
          for i = 1, count do
            local q = p + 8 + (i - 1) * 3
            local kind = tonumber(ARGV[q + 1])
            local window = tonumber(ARGV[q + 3])
            if kind == 2 and delta ~= 0 then
              local key = base .. 't' .. int(window / 1000000) .. ':' .. int(math.floor(at / window))
              if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, int(delta)) end
            elseif kind == 5 then
              quota_day = true
            elseif kind == 6 then
              quota_month, monthly = true, true
            elseif kind == 8 then
              monthly = true
            end
          end
          local periods_to_write = {{base .. 'd:' .. int(days), quota_day, retention_us}}
          if monthly then
            periods_to_write[2] = {base .. 'm:' .. int(month), quota_month, retention_us + 31 * day_us}
          end
          for _, period in ipairs(periods_to_write) do
            local key = period[1]
            local first = redis.call('HINCRBY', key, 'requests', 1) == 1
            if prompt ~= 0 then redis.call('HINCRBY', key, 'prompt_tokens', int(prompt)) end
            if completion ~= 0 then redis.call('HINCRBY', key, 'completion_tokens', int(completion)) end
            if cost ~= 0 then redis.call('HINCRBY', key, 'cost_nanos', int(cost)) end
            if period[2] and reserved ~= 0 then redis.call('HINCRBY', key, 'reserved_tokens', int(-reserved)) end
            if first then redis.call('PEXPIRE', key, int(math.ceil(period[3] / 1000))) end
          end
          p = p + 8 + 3 * count
        end
        if p ~= #ARGV then return redis.error_reply('\(errorText(badArguments))') end
        return n
        """
}
