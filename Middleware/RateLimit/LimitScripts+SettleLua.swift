import GatewayCore

/// The settlement script's Lua, generated once per tier from its plan (the shared pieces are in
/// `LimitScripts+Lua.swift`): a batch of ended requests folded per caller, each caller's lease
/// slots and counters read once and written once, its usage added to its days (`LimitScripts.settle`).
extension LimitScripts {
    /// The settlement script: its body (`settleBody`) over ARGV[1].
    static func settleLua(_ shape: Shape) -> String {
        luaHelpers(shape) + "local keys, argv = KEYS, ARGV\n" + luaUnpackBatch(arity: settleArity) + settleBody(shape) + "return n\n"
    }

    /// Settles the `n` packed entries in `a` (over `keys`): validates every entry before it
    /// writes anything. Needs `luaHelpers`; its locals are its own when it runs
    /// inside a block (the admission script runs it for the settlements riding with a batch).
    ///
    /// Riding with an admission batch (`riding`), a caller the batch also admits, whose leases
    /// are all in the batch's lease slot (`slot_n`), does not read and write its counters here:
    /// its entry goes to `merged[lkey]`, and the admission applies it to the counters it reads
    /// and writes anyway (`admitLua`), before deciding. The script's `now` is then the batch's.
    static func settleBody(_ shape: Shape, riding: Bool = false) -> String {
        let tokenWindows = shape.tokenWindows.map { String($0.window) }.joined(separator: ", ")
        // A folding plan's caller merged into the admission also leaves its usage to it.
        let deferred = riding ? (shape.foldsUsage ? " and not deferred" : " and not defer(lkey, c)") : ""
        let deferring = shape.foldsUsage ? "  local deferred = \(riding ? "defer(lkey, c)" : "false")\n" : ""
        // The caller's counters: its leases released from their slots (a slot that lapsed took
        // its leases with it: only what is still counted is released) and from the live count,
        // its token deltas added to the stored window and the one before it, in one read and
        // one write. While its counters are absent (`LimiterFields`) only the slots change: the
        // live count is rebuilt from them.
        let windows = luaAddDeltas(shape, deltas: "c.deltas", to: "k", changed: "changed")
        let counters = shape.fields.isEmpty ? "" : deferring + """
              if (#c.leases > 0 or next(c.deltas))\(deferred) then
                local read = {'\(shape.countersField)'}
                for _, slot in ipairs(c.leases) do read[#read + 1] = 'L' .. int(slot) end
                local s = redis.call('HMGET', lkey, unpack(read))
                local sets, ended, released = {}, {}, 0
                for j, slot in ipairs(c.leases) do
                  local field, held = read[1 + j], tonumber(s[1 + j])
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
                local k = \(luaUnpackCounters(shape, "s[1]"))
                if k then
                  local changed = released > 0
            \(shape.leaseCount.map { "      k[\($0 + 1)] = math.max(0, k[\($0 + 1)] - released)\n" } ?? "")\(windows)      if changed then
                    sets[#sets + 1] = '\(shape.countersField)'
                    sets[#sets + 1] = \(luaPackCounters(shape, "k"))
                  end
                end
                if #sets > 0 then redis.call('HSET', lkey, unpack(sets)) end
                if #ended > 0 then redis.call('HDEL', lkey, unpack(ended)) end
              end

            """
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
                L.usage_write(base .. u.prefix .. int(u.index), u.ttl, u[1], u[2], u[3], u[4], u[5])
              end

            """
        let firstDeltas = shape.tokenWindows.map { "{[floor(at / \($0.window))] = delta}" }.joined(separator: ", ")
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
                    local x = floor(at / w)
                    d[x] = (d[x] or 0) + delta
                  end
                end
                add(c, days, 'd:', days, retention_ms, count, prompt, completion, cost, quota_day and reserved or 0)
              end
              if monthly then
                local _, _, month = L.periods(at)
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
        // The gathering writes days and reads months with the lazily made helpers (`luaLazily`);
        // riding with an admission, it is a slow path.
        return (fast ? sorting : "") + """
            lib()
            local token_windows = {\(tokenWindows)}
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
            \(counters)\(usage)end
            \(fast ? "end\n" : "")
            """
    }
}
