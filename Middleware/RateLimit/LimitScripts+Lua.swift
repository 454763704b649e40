import GatewayCore

/// The Lua text of a plan's scripts, generated once per tier. Straight-line code with the
/// plan's numbers and field names as constants: inside Redis, the strings a script builds and
/// the commands it runs are its cost, so an admission batch builds none but its writes' values
/// and runs `TIME` once, then one `HMGET` and one `HSET` per caller however many of its
/// requests the batch holds (a `PEXPIRE` only when a window rolls or a lease slot starts; one
/// `HMGET`/`HGET` more per quota and request), its riding settlement included when its leases
/// are in the batch's slot. Here: the Lua pieces both scripts draw on; the admission is in
/// `LimitScripts+AdmitLua.swift`, the settlement in `LimitScripts+SettleLua.swift`.
extension LimitScripts {
    static let badArgumentsReply = "return redis.error_reply('ERR rate limit script: bad arguments')"

    /// Integer formatting (Lua 5.1 would print big numbers as 1.7e+15) and Redis `TIME` in µs.
    static let luaBasics = """
        local function int(x) return string.format('%d', x) end
        local function server_now()
          local time = redis.call('TIME')
          return tonumber(time[1]) * 1000000 + tonumber(time[2])
        end

        """

    /// A day in µs.
    static let luaDay = "local day_us = 86400000000\n"

    /// The UTC calendar of `CalendarPeriod`, step for step: day index, µs left in the day,
    /// month index, µs left in the month. Needs `luaDay`.
    static let luaCalendar = """
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

        """

    /// How long usage is kept, in ms.
    static func luaRetention(_ shape: Shape) -> String { "local retention_ms = \(millis(shape.retentionMicros))\n" }

    /// Usage into a day's (or month's) hash: `HINCRBY` per field, not one `HMGET` and one
    /// `HSET` (no reply table, no number parsed in Lua, Redis's own 64-bit arithmetic); a
    /// period's first requests make it and set its lifetime. Needs `luaBasics`.
    static let luaUsageWrite = """
        local function usage_write(key, ttl, r, p, c, k, res)
          local requests = redis.call('HINCRBY', key, 'requests', int(r))
          if p ~= 0 then redis.call('HINCRBY', key, 'prompt_tokens', int(p)) end
          if c ~= 0 then redis.call('HINCRBY', key, 'completion_tokens', int(c)) end
          if k ~= 0 then redis.call('HINCRBY', key, 'cost_nanos', int(k)) end
          if res ~= 0 then redis.call('HINCRBY', key, 'reserved_tokens', int(res)) end
          if requests == r then redis.call('PEXPIRE', key, ttl) end
        end

        """

    /// With counters, the pending usage of the limiter hash (`PendingUsage`): `usage_of` reads
    /// it (day, requests, prompt, completion, cost), `usage_add` adds a day's sums to it (a later
    /// day moves the pending ones to their day hash first, an earlier one goes to its hash at
    /// once, by `L.usage_write`: `luaHelpers`).
    static func luaPendingUsage(_ shape: Shape) -> String {
        guard !shape.fields.isEmpty else { return "" }
        // Five locals, not a table: a table per caller and call, and a function call per
        // field, cost more than the `HINCRBY`s the folding saves.
        var lua = """
            local function usage_of(raw)
              if raw and #raw == 40 then
                local d, r, p, c, k = struct.unpack('<i8i8i8i8i8', raw)
                return d, r, p, c, k
              end
              return -1, 0, 0, 0, 0
            end

            """
        if shape.foldsUsage {
            lua += """
                local function usage_add(lkey, d, r, p, c, k, day, dr, dp, dc, dk)
                  if d == day then return d, r + dr, p + dp, c + dc, k + dk end
                  lib()
                  local base = string.sub(lkey, 1, -2) .. 'd:'
                  if d > day then
                    L.usage_write(base .. int(day), retention_ms, dr, dp, dc, dk, 0)
                    return d, r, p, c, k
                  end
                  if d >= 0 then L.usage_write(base .. int(d), retention_ms, r, p, c, k, 0) end
                  return day, dr, dp, dc, dk
                end

                """
        }
        return lua
    }

    /// What both scripts start with: `luaBasics`, the constants, the helpers a script calls only
    /// on its slow paths (`slow`: the calendar, writing a day's usage, and the admission's
    /// limiter functions) made by `luaLazily`, and the pending usage's.
    static func luaHelpers(_ shape: Shape, slow: String = "") -> String {
        luaBasics + luaDay + luaRetention(shape) + luaLazily(slow + luaCalendar + luaUsageWrite) + luaPendingUsage(shape)
    }

    /// `helpers` (top-level `local function`s, nothing else) made only when a script first
    /// needs one: `lib()` defines them into table `L`, and the script calls them as `L.name`
    /// after calling `lib()`. A script's body runs afresh at each call, making every function
    /// it defines each time: the admission's slow paths (a refusal, a new caller, a settlement
    /// of another slot or day) need most of its helpers, and its usual call none of them (they
    /// were about 6 % of a call; locals declared for `lib()` to fill, upvalues made at each
    /// call, cost 2 % more than the table).
    static func luaLazily(_ helpers: String) -> String {
        let prefix = "local function "
        let names = helpers.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { $0.dropFirst(prefix.count).prefix { $0 != "(" } }
        let table = names.map { "\($0) = \($0)" }.joined(separator: ", ")
        return "local L\nlocal function lib()\nif L then return L end\n\(helpers)L = {\(table)}\nreturn L\nend\n"
    }

    /// The counters' word format (`LimiterFields`), a Lua string literal.
    static func luaCountersFormat(_ shape: Shape) -> String {
        "'<" + String(repeating: "i8", count: shape.fields.count) + "'"
    }

    /// The counters in Lua table `table` (1-based, in `shape.fields` order) packed into the
    /// value of `shape.countersField`.
    static func luaPackCounters(_ shape: Shape, _ table: String) -> String {
        "struct.pack(\(luaCountersFormat(shape)), " + shape.fields.indices.map { "\(table)[\($0 + 1)]" }.joined(separator: ", ") + ")"
    }

    /// A Lua table of the counters stored in `raw` (a value of `shape.countersField` as `HMGET`
    /// gives it; the table's word after the last counter is the unpacking's position), or nil
    /// when it is absent.
    static func luaUnpackCounters(_ shape: Shape, _ raw: String) -> String {
        "(\(raw) and #\(raw) == \(8 * shape.fields.count) and {struct.unpack(\(luaCountersFormat(shape)), \(raw))} or nil)"
    }

    /// A caller's stored window (`s[index]`, `s[current]`, `s[previous]`) rolled to window
    /// `to`, in line (a function call per window was 1.5 % of a call): a window later, the
    /// current count becomes the previous; more, both are 0. Marks `s.rolled` when it moved.
    static func luaRoll(index: Int, current: Int, previous: Int, to: String) -> String {
        """
            if s[\(index)] ~= \(to) then
              if s[\(index)] == \(to) - 1 then s[\(current)], s[\(previous)] = 0, s[\(current)] else s[\(current)], s[\(previous)] = 0, 0 end
              s.rolled = true
            end
            s[\(index)] = \(to)

        """
    }

    /// `TokenBucket.decide`: ok, remaining, reset, retry, available, millionths left.
    static let luaBucket = """
        local function bucket(capacity, rate, bt, ba, now)
          local full = capacity * 1000000
          local tokens, last = full, now
          if bt >= 0 then tokens, last = bt, ba end
          tokens = math.min(full, tokens + math.floor(math.max(0, now - last) * rate / 60))
          local avail = math.floor(tokens / 1000000)
          if tokens >= 1000000 then
            tokens = tokens - 1000000
            return true, math.floor(tokens / 1000000), math.ceil((full - tokens) * 60 / rate), 0, avail, tokens
          end
          return false, 0, math.ceil((full - tokens) * 60 / rate), math.ceil((1000000 - tokens) * 60 / rate), avail, tokens
        end

        """

    /// Leases whose holder died lapse when their slot ends (`LimiterFields`): the slots that
    /// ended go, with their counts, and the live count is the sum of the slots left, the
    /// batch's own slot (`slot`) counted as the batch holds it (`held`, not yet written). Run
    /// when the live count is at its limit, and to rebuild it when the counters are absent (a
    /// new caller, or a layout a reload changed), so a count that drifted is mended too.
    static func luaLapse(_ shape: Shape) -> String {
        """
        local function lapse(lkey, now, slot, held)
          local all = redis.call('HGETALL', lkey)
          local expired, live = {}, held
          for j = 1, #all, 2 do
            local f = all[j]
            if string.byte(f, 1) == 76 and f ~= slot then
              local n, value = tonumber(string.sub(f, 2)), tonumber(all[j + 1]) or 0
              if n then
                if (n + 1) * \(shape.slotMicros) <= now then expired[#expired + 1] = f else live = live + value end
              elseif value <= now then
                -- A lease of an earlier version (one field per request, its expiry as value).
                expired[#expired + 1] = f
              else
                live = live + 1
              end
            end
          end
          if #expired > 0 then redis.call('HDEL', lkey, unpack(expired)) end
          return live
        end

        """
    }

    /// `CalendarQuota.decide` over a usage hash: ok, remaining, reset, retry, available.
    static let luaQuota = """
        local function quota(key, limit, cost, left, tokens)
          local used
          if tokens then
            local f = redis.call('HMGET', key, 'prompt_tokens', 'completion_tokens', 'reserved_tokens')
            used = (tonumber(f[1]) or 0) + (tonumber(f[2]) or 0) + (tonumber(f[3]) or 0)
          else
            used = tonumber(redis.call('HGET', key, 'cost_nanos') or '0') or 0
          end
          local ok
          if cost > 0 then ok = used + cost <= limit else ok = used < limit end
          local avail = math.max(0, limit - used)
          if ok then return true, math.max(0, limit - used - cost), left, 0, avail end
          if cost > limit then return false, avail, left, -1, avail end
          return false, avail, left, left, avail
        end

        """

    /// A batch's packed entries (`ScriptBatch`) unpacked at once into `a`: per entry its key's
    /// index in KEYS, then `arity` integers; `n` entries. With `arity` 0, `n` integers, which
    /// the admission reads as its callers' runs itself (`AdmissionLayout`). Bad arguments end
    /// the script before it has written anything.
    /// `argument` is ARGV's 1-based index; `allowed` the argument counts the script takes.
    static func luaUnpackBatch(arity: Int, argument: Int = 1, allowed: [Int] = [1]) -> String {
        let count = allowed.isEmpty ? "" : "(" + allowed.map { "#argv ~= \($0)" }.joined(separator: " and ") + ") or "
        let integers = arity == 0 ? "n" : "\(1 + arity) * n"
        return """
            if \(count)#argv[\(argument)] == 0 or #argv[\(argument)] % \(8 * (1 + arity)) ~= 0 then \(badArgumentsReply) end
            local n = #argv[\(argument)] / \(8 * (1 + arity))
            local a = {struct.unpack('<' .. string.rep('i8', \(integers)), argv[\(argument)])}

            """
    }

    /// Lua for the lease slot of an admission at `at` µs (`LimiterFields.slot`).
    static func luaSlot(_ shape: Shape, at: String) -> String {
        "math.floor((\(at) + \(shape.leaseMicros)) / \(shape.slotMicros))"
    }

    /// Whole milliseconds, rounded up.
    static func millis(_ micros: Int64) -> Int64 { (micros + 999) / 1_000 }
}
