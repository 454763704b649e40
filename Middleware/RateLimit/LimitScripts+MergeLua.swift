import GatewayCore

/// The admission script's handling of the settlements riding with its batch: which callers'
/// entries the admission applies itself (`mergeLua`, and `settleBody`'s `fast` entries), and
/// how (`applyMergedLua`), so a caller's counters are read and written once for both.
extension LimitScripts {
    /// `defer(lkey, c)` for the riding settlements (`settleBody(riding:)`): takes a caller's
    /// entry into `merged` when the batch admits that caller and every lease it releases is in
    /// the batch's slot, so the admission reads and writes its counters once for both.
    static func mergeLua(_ shape: Shape) -> String {
        let sameSlot = shape.holdsLease ? "  for _, slot in ipairs(c.leases) do if slot ~= slot_n then return false end end\n" : ""
        return """
            local merged  -- made at the first caller merged
            local function defer(lkey, c)
              if not admitting[lkey] then return false end
            \(sameSlot)  merged = merged or {}
              merged[lkey] = c
              return true
            end

            """
    }

    /// Applies a caller's merged settlement (`mergeLua`) to its counters as just read (`s`: in
    /// `shape.fields` order, then the lease slot at `slotField` as stored), before the admission
    /// decides, with the settlement's arithmetic: leases released from the slot (no more than it
    /// holds) and from the live count, token deltas added to the stored window and the one
    /// before it. The caller's counters are then written as a batch writes them. A folding
    /// plan's `fast` entry gets the same arithmetic, read from the riding section (`ra`) directly.
    static func applyMergedLua(_ shape: Shape, slotField: Int) -> String {
        var lua = "    local m = merged and merged[lkey]\n    if m then\n"
        lua += releaseLua(shape, slotField: slotField, held: "m.leased[slot_n] and", count: "m.leased[slot_n]")
        lua += luaAddDeltas(shape, deltas: "m.deltas", to: "s")
        lua += "      s.dirty = true\n    end\n"
        guard shape.foldsUsage else { return lua }
        // A riding entry the admission applies itself (`settleBody`'s `fast`): one entry, its
        // leases (if any) in the batch's slot.
        lua += """
                local f = fast[lkey]
                if f then
                  local at, delta = ra[f + 2], ra[f + 5] + ra[f + 6] - ra[f + 4]

            """
        lua += releaseLua(shape, slotField: slotField, held: "at ~= 0 and", count: "ra[f + 3]")
        lua += "      if at == 0 then at = now end\n"
        for window in shape.tokenWindows {
            let (index, current, previous) = (window.firstField + 1, window.firstField + 2, window.firstField + 3)
            lua += """
                      if delta ~= 0 then
                        local x, si = floor(at / \(window.window)), s[\(index)]
                        if si == x then
                          s[\(current)] = s[\(current)] + delta
                        elseif si == x + 1 then
                          s[\(previous)] = s[\(previous)] + delta
                        end
                      end

                """
        }
        return lua + "      s.dirty = true\n    end\n"
    }

    /// A merged settlement's leases back from the batch's slot (no more than it holds) and from
    /// the live count; `held` guards the read (the settlement holds leases there), `count` is
    /// how many it releases.
    static func releaseLua(_ shape: Shape, slotField: Int, held: String, count: String) -> String {
        guard let cn = shape.leaseCount else { return "" }
        return """
                  local held = \(held) tonumber(s[\(slotField)])
                  if held then
                    local r = math.min(held, \(count))
                    s[\(slotField)] = held - r
                    if held == r then s.emptied = true end
                    s[\(cn + 1)] = math.max(0, s[\(cn + 1)] - r)
                  end

            """
    }

    /// A settlement's token deltas (`deltas`: per token window, window index → delta) added to a
    /// caller's counters in Lua table `counters` (`shape.fields` order): the stored window's
    /// delta to its current count, the window before's to its previous one (the settlement's
    /// arithmetic, `LimitScripts+SettleLua.swift`). With `changed`, that local is set when one
    /// is added.
    static func luaAddDeltas(_ shape: Shape, deltas: String, to counters: String, changed: String? = nil) -> String {
        let (flag, set) = changed.map { (", " + $0, ", true") } ?? ("", "")
        return shape.tokenWindows.enumerated().map { j, window in
            let (index, current, previous) = (window.firstField + 1, window.firstField + 2, window.firstField + 3)
            return """
                      do
                        local d, si = \(deltas)[\(j + 1)], \(counters)[\(index)]
                        if d and (d[si] or d[si - 1]) then
                          \(counters)[\(current)], \(counters)[\(previous)]\(flag) = \(counters)[\(current)] + (d[si] or 0), \(counters)[\(previous)] + (d[si - 1] or 0)\(set)
                        end
                      end

                """
        }.joined()
    }
}
