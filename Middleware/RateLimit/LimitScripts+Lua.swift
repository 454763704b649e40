import GatewayCore

/// The Lua text of a plan's scripts, generated once per tier. Straight-line code with the
/// plan's numbers and field names as constants: inside Redis, the strings a script builds and
/// the commands it runs are its cost, so an admission batch builds none but its writes' values
/// and runs `TIME` once, then one `HMGET`, one `HSET` and one `PEXPIRE` per caller however many
/// of its requests the batch holds (plus one `HMGET`/`HGET` per quota and request), its riding
/// settlement included when its leases are in the batch's slot. Here: the
/// Lua pieces both scripts draw on, and the settlement; the admission is in
/// `LimitScripts+AdmitLua.swift`.
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

    /// The UTC calendar of `CalendarPeriod`, step for step: day index, µs left in the day,
    /// month index, µs left in the month.
    static let luaCalendar = """
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

        """

    /// Usage into a day's (or month's) hash (`usage_write`: `HINCRBY` per field, not one
    /// `HMGET` and one `HSET`: no reply table, no number parsed in Lua, Redis's own 64-bit
    /// arithmetic; a period's first requests make it and set its lifetime). With counters,
    /// the pending usage of the limiter hash (`PendingUsage`): `usage_of` reads it (day,
    /// requests, prompt, completion, cost), `usage_add` adds a day's sums to it (a later day
    /// moves the pending ones to their day hash first, an earlier one goes to its hash at once).
    /// Needs `luaBasics`.
    static func luaUsage(_ shape: Shape) -> String {
        var lua = """
            local retention_ms = \(millis(shape.retentionMicros))
            local function usage_write(key, ttl, r, p, c, k, res)
              local requests = redis.call('HINCRBY', key, 'requests', int(r))
              if p ~= 0 then redis.call('HINCRBY', key, 'prompt_tokens', int(p)) end
              if c ~= 0 then redis.call('HINCRBY', key, 'completion_tokens', int(c)) end
              if k ~= 0 then redis.call('HINCRBY', key, 'cost_nanos', int(k)) end
              if res ~= 0 then redis.call('HINCRBY', key, 'reserved_tokens', int(res)) end
              if requests == r then redis.call('PEXPIRE', key, ttl) end
            end

            """
        guard !shape.fields.isEmpty else { return lua }
        // Five locals, not a table: a table per caller and call, and a function call per
        // field, cost more than the `HINCRBY`s the folding saves.
        lua += """
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
                  local base = string.sub(lkey, 1, -2) .. 'd:'
                  if d > day then
                    usage_write(base .. int(day), retention_ms, dr, dp, dc, dk, 0)
                    return d, r, p, c, k
                  end
                  if d >= 0 then usage_write(base .. int(d), retention_ms, r, p, c, k, 0) end
                  return day, dr, dp, dc, dk
                end

                """
        }
        return lua
    }

    /// A stored window (`<stem>i`, `c`, `p`) rolled to window `index`: (current, previous, and
    /// whether the stored index and previous count change).
    static let luaRoll = """
        local function roll(si, c, p, index)
          si, c, p = tonumber(si), tonumber(c) or 0, tonumber(p) or 0
          if si == index then return c, p, false elseif si == index - 1 then return 0, c, true end
          return 0, 0, true
        end

        """

    /// `TokenBucket.decide`: ok, remaining, reset, retry, available, millionths left.
    static let luaBucket = """
        local function bucket(capacity, rate, bt, ba, now)
          local full = capacity * 1000000
          local tokens, last = full, now
          if bt then tokens, last = tonumber(bt), tonumber(ba) end
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
    /// ended go, with their counts, and the live count follows.
    static func luaLapse(_ shape: Shape) -> String {
        """
        local function lapse(lkey, now, live)
          local all = redis.call('HGETALL', lkey)
          local expired, freed = {}, 0
          for j = 1, #all, 2 do
            local f = all[j]
            if string.byte(f, 1) == 76 then
              local slot, value = tonumber(string.sub(f, 2)), tonumber(all[j + 1]) or 0
              if slot and (slot + 1) * \(shape.slotMicros) <= now then
                expired[#expired + 1] = f
                freed = freed + value
              elseif not slot and value <= now then
                -- A lease of an earlier version (one field per request, its expiry as value).
                expired[#expired + 1] = f
                freed = freed + 1
              end
            end
          end
          if #expired == 0 then return live end
          redis.call('HDEL', lkey, unpack(expired))
          live = math.max(0, live - freed)
          redis.call('HSET', lkey, 'cn', int(live))
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

    /// The settlement script: its body (`settleBody`) over ARGV[1].
    static func settleLua(_ shape: Shape) -> String {
        luaBasics + luaCalendar + luaUsage(shape) + "local keys, argv = KEYS, ARGV\n" + luaUnpackBatch(arity: settleArity) + settleBody(shape) + "return n\n"
    }

    /// Settles the `n` packed entries in `a` (over `keys`): validates every entry before it
    /// writes anything. Needs `luaBasics` and `luaCalendar`; its locals are its own when it runs
    /// inside a block (the admission script runs it for the settlements riding with a batch).
    ///
    /// Riding with an admission batch (`riding`), a caller the batch also admits, whose leases
    /// are all in the batch's lease slot (`slot_n`), does not read and write its counters here:
    /// its entry goes to `merged[lkey]`, and the admission applies it to the counters it reads
    /// and writes anyway (`admitLua`), before deciding. The script's `now` is then the batch's.
    static func settleBody(_ shape: Shape, riding: Bool = false) -> String {
        let tokenWindows = shape.tokenStems.map { "{\($0.window), '\($0.stem)c', '\($0.stem)p'}" }.joined(separator: ", ")
        let limiterFields = ["'cn'"] + shape.tokenStems.flatMap { ["'\($0.stem)i'", "'\($0.stem)c'", "'\($0.stem)p'"] }
        // A folding plan's caller merged into the admission also leaves its usage to it.
        let deferred = riding ? (shape.foldsUsage ? " and not deferred" : " and not defer(lkey, c)") : ""
        let counters = (shape.foldsUsage ? "  local deferred = \(riding ? "defer(lkey, c)" : "false")\n" : "")
            + "  if (#c.leases > 0 or next(c.deltas))\(deferred) then"
        let usage = shape.foldsUsage
            ? """
              if not deferred then
                local raw = redis.call('HGET', lkey, '\(PendingUsage.field)')
                local d, r, p, cu, k = usage_of(raw)
                for _, day in ipairs(c.slots) do
                  local x = c.usage[day]
                  d, r, p, cu, k = usage_add(lkey, d, r, p, cu, k, day, x[1], x[2], x[3], x[4])
                end
                redis.call('HSET', lkey, '\(PendingUsage.field)', struct.pack('<i8i8i8i8i8', d, r, p, cu, k))
                if not raw then redis.call('PEXPIRE', lkey, \(limiterLifetime(shape).millis)) end
              end

            """
            : """
              local base = string.sub(lkey, 1, -2)
              for _, slot in ipairs(c.slots) do
                local u = c.usage[slot]
                usage_write(base .. u.prefix .. int(u.index), u.ttl, u[1], u[2], u[3], u[4], u[5])
              end

            """
        let firstDeltas = shape.tokenStems.map { "{[floor(at / \($0.window))] = delta}" }.joined(separator: ", ")
        // One entry: its caller's leases, token deltas and usage gathered (`callers`).
        let entry = """
              local at, count, reserved, prompt, completion, cost = a[p + 2], a[p + 3], a[p + 4], a[p + 5], a[p + 6], a[p + 7]
              -- A request an admission script decided holds a lease when the plan takes one.
              local holds = \(shape.holdsLease) and at ~= 0
              if at == 0 then
                if not now then now = server_now() end
                at = now
              end
              local slot
              if holds then slot = \(luaSlot(shape, at: "at")) end
              local delta = prompt + completion - reserved
              local days = floor(at / day_us)
              local c = callers[lkey]
              if not c then
                -- Built whole from the caller's first entry: tables filled one key at a time
                -- grow by rehashing, which was most of what a riding entry cost.
                c = {leases = {slot}, leased = slot and {[slot] = count} or {}, deltas = delta ~= 0 and {\(firstDeltas)} or {},
                     usage = {[days] = {count, prompt, completion, cost, quota_day and -reserved or 0, prefix = 'd:', index = days, ttl = retention_ms}},
                     slots = {days}}
                callers[lkey] = c
                order[#order + 1] = lkey
              else
                if slot then
                  if not c.leased[slot] then
                    c.leased[slot] = 0
                    c.leases[#c.leases + 1] = slot
                  end
                  c.leased[slot] = c.leased[slot] + count
                end
                if delta ~= 0 then
                  for j, w in ipairs(token_windows) do
                    local d = c.deltas[j] or {}
                    c.deltas[j] = d
                    local x = floor(at / w[1])
                    d[x] = (d[x] or 0) + delta
                  end
                end
                add(c, days, 'd:', days, retention_ms, count, prompt, completion, cost, quota_day and reserved or 0)
              end
              if monthly then
                local _, _, month = periods(at)
                add(c, -1 - month, 'm:', month, retention_ms + 31 * 86400000, count, prompt, completion, cost, quota_month and reserved or 0)
              end

            """
        let check = """
              local p = \(settleArity + 1) * (e - 1)
              local lkey = keys[a[p + 1]]
              if not lkey then \(badArgumentsReply) end

            """
        // Riding with the batch, a folding plan's caller that the batch admits, with one entry
        // in the batch's lease slot (nearly always), is not gathered here: the admission applies
        // the entry itself (`fast`, its offset in `a`, kept as `ra`), and the gathering's tables
        // and functions are not even made unless some entry needs them (`slow`; a caller's
        // second entry gathers both).
        let fast = riding && shape.foldsUsage
        let sameSlot = shape.holdsLease ? " and (at == 0 or \(luaSlot(shape, at: "at")) == slot_n)" : ""
        let sorting = """
            ra = a
            local slow
            for e = 1, n do
            \(check)  local at = a[p + 2]
              if admitting[lkey] and not fast[lkey]\(sameSlot) then
                fast[lkey] = p
              else
                slow = slow or {}
                slow[#slow + 1] = p
              end
            end
            if slow then
              for j = 1, #slow do
                local lkey = keys[a[slow[j] + 1]]
                if fast[lkey] then
                  slow[#slow + 1] = fast[lkey]
                  fast[lkey] = nil
                end
              end

            """
        let entries = fast
            ? "for _, p in ipairs(slow) do\n  local lkey = keys[a[p + 1]]\n\(entry)end\n"
            : "for e = 1, n do\n\(check)\(entry)end\n"
        return (fast ? sorting : "") + """
            local token_windows = {\(tokenWindows)}
            local limiter_fields = {\(limiterFields.joined(separator: ", "))}
            local quota_day, quota_month, monthly = \(shape.quotaDay), \(shape.quotaMonth), \(shape.monthly)
            local floor = math.floor
            local now\(riding ? " = batch_now" : "")
            local callers, order = {}, {}
            -- Folds one entry's usage into its caller's period (a day index, or -1 - month index).
            local function add(c, slot, prefix, index, ttl, count, prompt, completion, cost, reserved)
              local u = c.usage[slot]
              if not u then
                u = {0, 0, 0, 0, 0, prefix = prefix, index = index, ttl = ttl}
                c.usage[slot] = u
                c.slots[#c.slots + 1] = slot
              end
              u[1], u[2], u[3], u[4], u[5] = u[1] + count, u[2] + prompt, u[3] + completion, u[4] + cost, u[5] - reserved
            end
            \(entries)
            for _, lkey in ipairs(order) do
              local c = callers[lkey]
            \(counters)
                local read = {unpack(limiter_fields)}
                for _, slot in ipairs(c.leases) do read[#read + 1] = 'L' .. int(slot) end
                local s = redis.call('HMGET', lkey, unpack(read))
                -- A slot that lapsed took its leases with it: only what is still counted is released.
                local sets, ended, released = {}, {}, 0
                for j, slot in ipairs(c.leases) do
                  local field, held = read[#limiter_fields + j], tonumber(s[#limiter_fields + j])
                  if held then
                    local r = math.min(held, c.leased[slot])
                    released = released + r
                    if held > r then
                      sets[#sets + 1] = field
                      sets[#sets + 1] = int(held - r)
                    else
                      ended[#ended + 1] = field
                    end
                  end
                end
                if released > 0 and s[1] then
                  sets[#sets + 1] = 'cn'
                  sets[#sets + 1] = int(math.max(0, tonumber(s[1]) - released))
                end
                for j, w in ipairs(token_windows) do
                  local d, si = c.deltas[j], tonumber(s[3 * j - 1])
                  if d and si and (d[si] or d[si - 1]) then
                    sets[#sets + 1] = w[2]
                    sets[#sets + 1] = int((tonumber(s[3 * j]) or 0) + (d[si] or 0))
                    sets[#sets + 1] = w[3]
                    sets[#sets + 1] = int((tonumber(s[3 * j + 1]) or 0) + (d[si - 1] or 0))
                  end
                end
                if #sets > 0 then redis.call('HSET', lkey, unpack(sets)) end
                if #ended > 0 then redis.call('HDEL', lkey, unpack(ended)) end
              end
            \(usage)end
            \(fast ? "end\n" : "")
            """
    }

    /// Lua for the lease slot of an admission at `at` µs (`LimiterFields.slot`).
    static func luaSlot(_ shape: Shape, at: String) -> String {
        "math.floor((\(at) + \(shape.leaseMicros)) / \(shape.slotMicros))"
    }

    /// Whole milliseconds, rounded up.
    static func millis(_ micros: Int64) -> Int64 { (micros + 999) / 1_000 }
}
