import GatewayCore

/// The admission script's Lua, generated once per tier from its plan (the shared pieces are in
/// `LimitScripts+Lua.swift`): a batch of requests, each caller's counters read once and written
/// once, windows and concurrency decided on a straight arithmetic path, answers in the short
/// form when they can be (`LimitScripts.admit`).
extension LimitScripts {
    static func admitLua(_ shape: Shape) -> String {
        let kinds = Set(shape.entries.map(\.limit.kind))
        let windows = kinds.contains(.requests) || kinds.contains(.tokens)
        let quotas = !kinds.isDisjoint(with: [.dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost])
        // Windows and concurrency admit on a straight path of arithmetic; a refusal, and plans
        // with a bucket or a quota, take the general one (the limiter functions, one per limit).
        let straight = kinds.isSubset(of: [.requests, .tokens, .concurrency])
        let count = shape.entries.count
        // The limiters' general arithmetic and the lapse of leases are made at their first
        // call (`lib()`), with the riding settlements' and the quotas' calendar.
        var slow = windows ? SlidingWindow.lua : ""
        if kinds.contains(.burst) { slow += luaBucket }
        if kinds.contains(.concurrency) { slow += luaLapse(shape) }
        if quotas { slow += luaQuota }
        var lua = luaHelpers(shape, slow: slow)
        // ARGV[1]: per caller, its key's index, how many requests, then each one's reservation
        // (`AdmissionLayout`).
        lua += """
            local keys, argv = KEYS, ARGV
            \(luaUnpackBatch(arity: 0, allowed: [1, 2]))local admitting = {}
            local g = 1
            while g <= n do
              local lkey, run = keys[a[g]], a[g + 1]
              if not lkey or not run or run < 1 or g + 1 + run > n then \(badArgumentsReply) end
              admitting[lkey] = true
              g = g + 2 + run
            end
            local batch_now = server_now()
            \(shape.holdsLease ? "local slot_n = \(luaSlot(shape, at: "batch_now"))\n" : "")
            """
        lua += mergeLua(shape)
        if shape.foldsUsage { lua += "local ra, fast = nil, {}\n" }
        lua += """
            -- Settlements riding with the batch (ARGV[2]) go first: a caller's next request sees
            -- its ended ones settled, one script call for both.
            if #argv == 2 then
            \(luaUnpackBatch(arity: settleArity, argument: 2, allowed: []))\(settleBody(shape, riding: true))end
            local now = batch_now
            local floor = math.floor

            """
        // Per batch: where `now` falls in each window, and the lease slot. In `s`, a caller's
        // counters in `shape.fields` order, then the batch's lease slot's count.
        let slot = shape.fields.count + 1
        var prepare = ""  // per caller, once per batch: its lease slot and usage made ready, windows rolled
        var conditions: [String] = []
        // The straight path reads each count once (into a local) and computes each window's use
        // with this request once, for the test and the answer.
        var straightLocals = ""
        var straightWrites = ""
        var straightCommit = ""
        var resets: [String] = []  // what a short-form answer's limits reset in (the call's)
        var decide = ""
        var commit = ""
        var quotaWrites = ""
        // The group form (a caller's run of `run` requests at once): its test, the counts it
        // answers with, and its commit.
        var groupConditions: [String] = []
        var groupRecord: [String] = []
        var groupCommit = ""
        for (offset, entry) in shape.entries.enumerated() {
            let k = offset + 1
            let limit = entry.limit
            let s = entry.firstField + 1  // this limit's first counter in `s`
            let shortRemaining = "out[b + \(1 + k)]"
            switch limit.kind {
            case .requests, .tokens:
                let window = limit.parameter
                let cost = limit.kind == .tokens ? "reserve" : "1"
                lua += """
                    local x\(k) = floor(now / \(window))
                    local left\(k) = \(window) - (now - x\(k) * \(window))
                    local w\(k) = left\(k) / \(window)

                    """
                prepare += indented(indented(luaRoll(index: s, current: s + 1, previous: s + 2, to: "x\(k)")))
                // `sliding_window`'s arithmetic in its order: used = previous * (left / window) + current.
                straightLocals += "  local c\(k) = s[\(s + 1)]\n  local u\(k) = s[\(s + 2)] * w\(k) + c\(k) + \(cost)\n"
                conditions.append("u\(k) <= \(limit.limit)")
                // Its reset is then the call's: the current window holds something (`full_reset`).
                if limit.kind == .tokens { conditions.append("c\(k) + reserve > 0") }
                resets.append("left\(k) + \(window)")
                // Not floored: the condition makes it at least 0, and packing it as an integer
                // truncates, which for those is the floor (a `math.floor` call per limit and
                // request was 4 % of the call).
                straightWrites += "    \(shortRemaining) = \(limit.limit) - u\(k)\n"
                decide += """
                      do
                        local ok, remaining, avail, reset, retry = L.sliding_window(\(limit.limit), \(window), s[\(s + 2)], s[\(s + 1)], \(cost), left\(k))
                        record(\(k), ok, remaining, reset, retry, avail)
                      end

                    """
                commit += "    s[\(s + 1)] = s[\(s + 1)] + \(cost)\n"
                straightCommit += "    s[\(s + 1)] = c\(k) + \(cost)\n"
                // The last request's use, as the straight path computes it, with the run's
                // largest reservation; its first's must leave the window holding something.
                if limit.kind == .tokens {
                    groupConditions.append("s[\(s + 2)] * w\(k) + (s[\(s + 1)] + before) + most <= \(limit.limit)")
                    groupConditions.append("s[\(s + 1)] + first > 0")
                    groupCommit += "    s[\(s + 1)] = s[\(s + 1)] + before + a[last]\n"
                } else {
                    groupConditions.append("s[\(s + 2)] * w\(k) + (s[\(s + 1)] + run - 1) + 1 <= \(limit.limit)")
                    groupCommit += "    s[\(s + 1)] = s[\(s + 1)] + run\n"
                }
                groupRecord += ["s[\(s + 1)]", "s[\(s + 2)]"]
            case .burst:
                decide += """
                      local t\(k)
                      do
                        local ok, remaining, reset, retry, avail
                        ok, remaining, reset, retry, avail, t\(k) = L.bucket(\(max(1, limit.limit)), \(max(1, limit.parameter)), s[\(s)], s[\(s + 1)], now)
                        record(\(k), ok, remaining, reset, retry, avail)
                      end

                    """
                commit += "    s[\(s)], s[\(s + 1)] = t\(k), now\n"
                resets.append("0")
            case .concurrency:
                straightLocals += "  local n\(k) = s[\(s)]\n"
                conditions.append("n\(k) < \(limit.limit)")
                resets.append("0")
                straightWrites += "    \(shortRemaining) = \(limit.limit - 1) - n\(k)\n"
                decide += """
                      if s[\(s)] >= \(limit.limit) then
                        local live = L.lapse(lkey, now, slot, s[\(slot)])
                        if live ~= s[\(s)] then s[\(s)], s.dirty = live, true end
                      end
                      record(\(k), s[\(s)] < \(limit.limit), math.max(0, \(limit.limit - 1) - s[\(s)]), 0, \(ConcurrencyLimit.retryMicros), math.max(0, \(limit.limit) - s[\(s)]))

                    """
                commit += "    s[\(s)] = s[\(s)] + 1\n"
                straightCommit += "    s[\(s)] = n\(k) + 1\n"
                groupConditions.append("s[\(s)] + run <= \(limit.limit)")
                groupRecord.append("s[\(s)]")
                groupCommit += "    s[\(s)] = s[\(s)] + run\n"
            case .dailyTokens, .monthlyTokens, .dailyCost, .monthlyCost:
                let daily = limit.kind == .dailyTokens || limit.kind == .dailyCost
                let tokens = limit.kind == .dailyTokens || limit.kind == .monthlyTokens
                resets.append("0")
                decide += """
                      local q\(k) = base .. \(daily ? "'d:' .. int(days)" : "'m:' .. int(month)")
                      do
                        local ok, remaining, reset, retry, avail = L.quota(q\(k), \(limit.limit), \(tokens ? "reserve" : "0"), \(daily ? "day_left" : "month_left"), \(tokens))
                        record(\(k), ok, remaining, reset, retry, avail)
                      end

                    """
                if tokens {
                    // Written at once: the batch's next request reads the usage hash again.
                    quotaWrites += """
                            if reserve > 0 then
                              redis.call('HINCRBY', q\(k), 'reserved_tokens', int(reserve))
                              redis.call('PEXPIRE', q\(k), \(millis(shape.retentionMicros)))
                            end

                        """
                }
            }
        }
        // The lease slot this batch's leases fall in: its count is read and written with the rest.
        if shape.holdsLease {
            lua += "local slot = 'L' .. int(slot_n)\n"
            // A slot's first write (its field absent) renews the hash's lifetime (below).
            prepare += "    local slot_held = tonumber(s[\(slot)])\n"
                + "    if slot_held then s[\(slot)] = slot_held else s[\(slot)], s.renew = 0, true end\n"
            commit += "    s[\(slot)] = s[\(slot)] + 1\n"
            straightCommit += "    s[\(slot)] = s[\(slot)] + 1\n"
            groupCommit += "    s[\(slot)] = s[\(slot)] + run\n"
        }
        // The usage pending in the limiter hash (`PendingUsage`), read with the counters: a
        // folding plan adds its merged settlements' usage to it and writes it with them; another
        // plan (the caller's tier changed) moves it to its day hash.
        let usageField = (shape.holdsLease ? slot + 1 : slot)
        if shape.foldsUsage {
            // Unpacked and packed again only when a merged settlement adds to it (or it is
            // new, which renews the hash); otherwise written back as read.
            prepare += """
                    if m or f or not s[\(usageField)] then
                      if not s[\(usageField)] then s.renew = true end
                      local d, r, p, c, k = usage_of(s[\(usageField)])
                      if m then
                        for j = 1, #m.slots do
                          local x = m.usage[m.slots[j]]
                          d, r, p, c, k = usage_add(lkey, d, r, p, c, k, m.slots[j], x[1], x[2], x[3], x[4])
                        end
                      end
                      if f then
                        local at = ra[f + 2]
                        if at == 0 then at = now end
                        d, r, p, c, k = usage_add(lkey, d, r, p, c, k, floor(at / day_us), ra[f + 3], ra[f + 5], ra[f + 6], ra[f + 7])
                      end
                      s[\(usageField)] = struct.pack('<i8i8i8i8i8', d, r, p, c, k)
                    end

                """
        } else if !shape.fields.isEmpty {
            prepare += """
                    if s[\(usageField)] then
                      local d, r, p, c, k = usage_of(s[\(usageField)])
                      if d >= 0 then lib(); L.usage_write(string.sub(lkey, 1, -2) .. 'd:' .. int(d), retention_ms, r, p, c, k, 0) end
                      redis.call('HDEL', lkey, '\(PendingUsage.field)')
                    end

                """
        }
        if quotas { lua += "lib()\nlocal days, day_left, month, month_left = L.periods(now)\n" }
        lua += """
            local out = {now\(resets.map { ", " + $0 }.joined())}
            -- Each caller's counters, read once per batch and written once after it.
            local state, order = {}, {}
            local b = \(1 + count)
            local available  -- made at a refusal's first limit (`record`)
            local function record(i, ok, remaining, reset, retry, avail)
              out[b + 1 + 2 * i] = remaining
              out[b + 2 + 2 * i] = reset
              available = available or {}
              available[i] = avail
              if not ok then
                local r = out[b + 2]
                if out[b + 1] == -1 or (retry == -1 and r ~= -1) or (r ~= -1 and retry > r) then
                  out[b + 1], out[b + 2] = i, retry
                end
              end
            end
            local g = 1
            while g <= n do
              local lkey, run = keys[a[g]], a[g + 1]
              local last = g + 1 + run

            """
        if !shape.fields.isEmpty {
            // The counters' field, the lease slot, the pending usage. Absent counters are each
            // their `absent` value, and the live count is rebuilt from the lease slots (then
            // written even if no request is admitted, so the next batch finds it).
            let read = (["'\(shape.countersField)'"] + (shape.holdsLease ? ["slot"] : []) + ["'\(PendingUsage.field)'"])
            let absent = shape.absent.map(String.init).joined(separator: ", ")
            let rebuild = shape.leaseCount.map {
                "\n      lib()\n      s[\($0 + 1)], s.dirty = L.lapse(lkey, now, slot, tonumber(h[2]) or 0), true"
            } ?? ""
            let extras = (2...read.count).map { "h[\($0)]" }.joined(separator: ", ")
            let words = shape.fields.indices.map { "k\($0 + 1)" }.joined(separator: ", ")
            // Made whole, its flags with it: a table given keys one at a time grows by rehashing.
            let flags = "dirty = false, rolled = false, renew = false, emptied = false"
            lua += """
                  local s = state[lkey]
                  if not s then
                    local h = redis.call('HMGET', lkey, \(read.joined(separator: ", ")))
                    if h[1] and #h[1] == \(8 * shape.fields.count) then
                      local \(words) = struct.unpack(\(luaCountersFormat(shape)), h[1])
                      s = {\(words), \(extras), \(flags)}
                    else
                      s = {\(absent), \(extras), \(flags)}\(rebuild)
                    end
                \(applyMergedLua(shape, slotField: slot))\(prepare)                    state[lkey] = s
                    order[#order + 1] = lkey
                  end

                """
        }
        if quotas { lua += "  local base = string.sub(lkey, 1, -2)\n" }
        // The long form: -1 (admitted) or the refusing limit, the retry, then each limit's
        // remaining and reset.
        let general = """
              lib()
              out[b + 1], out[b + 2] = -1, 0
            \(decide)  if out[b + 1] ~= -1 then
                for i = 1, \(count) do out[b + 1 + 2 * i] = available[i] end
              else
            \(commit)\(shape.fields.isEmpty ? "" : "    s.dirty = true\n")\(quotaWrites)  end
              b = b + \(2 + 2 * count)

            """
        // One request, in the short form when it can be, else the long.
        var one = general
        if straight && !conditions.isEmpty {
            // The short form: 0, then each limit's remaining (resets are the call's, up front).
            one = """
                \(straightLocals)  if \(conditions.joined(separator: " and ")) then
                    out[b + 1] = 0
                \(straightWrites)\(straightCommit)    s.dirty = true
                    b = b + \(1 + count)
                  else
                \(indented(general))  end

                """
        }
        let each = "  for e = g + 2, last do\n    local reserve = a[e]\n" + indented(one) + "  end\n"
        if straight && !conditions.isEmpty {
            // The group form: a caller's whole run at once when its last request passes the
            // straight path's test with the run's largest reservation (so each request would:
            // its use is no more than that bound's, the arithmetic being monotone). `-2`, the
            // run's length, then each limit's counts before it: the gateway works out each
            // request's short-form answer (`AdmissionLayout`). A run costs the script about as
            // much as one request did.
            let tokens = kinds.contains(.tokens)
            if tokens {
                lua += """
                      local first, most, least, before = a[g + 2], a[last], a[last], 0
                      for j = g + 2, last - 1 do
                        local r = a[j]
                        before = before + r
                        if r > most then most = r elseif r < least then least = r end
                      end

                    """
            }
            let record = groupRecord.enumerated().map { "out[b + \(3 + $0.offset)] = \($0.element)\n" }.joined()
            lua += """
                  if run > 1\(tokens ? " and least >= 0" : "") and \(groupConditions.joined(separator: " and ")) then
                    out[b + 1], out[b + 2] = -2, run
                \(indented(indented(record)))\(groupCommit)    s.dirty = true
                    b = b + \(2 + groupRecord.count)
                  else
                \(indented(each))  end

                """
        } else {
            lua += each
        }
        lua += "  g = last + 1\nend\n"
        if !shape.fields.isEmpty {
            // One write per caller: its counters packed, its lease slot, its pending usage.
            var sets = ["'\(shape.countersField)', \(luaPackCounters(shape, "s"))"]
            if shape.holdsLease { sets.append("slot, int(s[\(slot)])") }
            if shape.foldsUsage { sets.append("'\(PendingUsage.field)', s[\(usageField)]") }
            let write = "redis.call('HSET', lkey, \(sets.joined(separator: ", ")))"
            // A merged settlement that emptied the batch's lease slot, which no request of the
            // batch took again: the field goes, as the settlement would have deleted it.
            let emptied = shape.holdsLease ? "\n    if s.emptied and s[\(slot)] == 0 then redis.call('HDEL', lkey, slot) end" : ""
            lua += """
                for _, lkey in ipairs(order) do
                  local s = state[lkey]
                  if s.dirty then
                    \(write)
                    \(renewal(shape))\(emptied)
                  end
                end

                """
        }
        return lua + "return struct.pack('<' .. string.rep('i8', #out), unpack(out))\n"
    }

    /// Lua `text` one block deeper.
    static func indented(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }

    /// The limiter hash's `PEXPIRE` after a batch's write (`limiterLifetime`).
    static func renewal(_ shape: Shape) -> String {
        let lifetime = limiterLifetime(shape)
        guard !lifetime.events.isEmpty else { return "redis.call('PEXPIRE', lkey, \(lifetime.millis))" }
        return "if \(lifetime.events.joined(separator: " or ")) then redis.call('PEXPIRE', lkey, \(lifetime.millis)) end"
    }

    /// When a batch renews the limiter hash, and to how many ms. It must outlive every write by
    /// `keepMicros`. A window's roll (or a lease slot's first write) comes at least once every
    /// `period` (the shortest window, or slot) while the caller keeps writing, so renewing at
    /// those writes to `keepMicros + period` covers the writes between them: one `PEXPIRE` a
    /// minute or so per caller instead of one per batch (4 % of a call). A plan with neither
    /// renews at every write (no events). While usage waits in the hash (`foldsUsage`), it lives
    /// as long as usage is kept, renewed too when its pending usage starts (`s.renew`). (While
    /// instances of an earlier version write the same hash, their `PEXPIRE` to the bare keep
    /// time can leave a later write with up to one `period` less: within a lease's slack of two
    /// slots; for a window, at most its last `period` of an idle caller's previous count. Such
    /// a `PEXPIRE` also shortens a folding hash's life: usage waiting in it is lost if the
    /// caller then goes quiet for the keep time before an instance of this version writes it.)
    static func limiterLifetime(_ shape: Shape) -> (events: [String], millis: Int64) {
        var events: [String] = []
        var periods = shape.entries.filter { $0.limit.kind == .requests || $0.limit.kind == .tokens }.map(\.limit.parameter)
        if !periods.isEmpty { events.append("s.rolled") }
        if shape.holdsLease { periods.append(shape.slotMicros) }
        if shape.holdsLease || (shape.foldsUsage && !periods.isEmpty) { events.append("s.renew") }
        guard let period = periods.min() else { return ([], millis(shape.limiterLifetimeMicros) + 1) }
        let lifetime = shape.foldsUsage ? max(shape.keepMicros + period, shape.retentionMicros) : shape.keepMicros + period
        return (events, millis(lifetime) + 1)
    }
}
