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
            local merged = {}
            local function defer(lkey, c)
              if not admitting[lkey] then return false end
            \(sameSlot)  merged[lkey] = c
              return true
            end

            """
    }

    /// Applies a caller's merged settlement (`mergeLua`) to its counters as just read (`s`, in
    /// `shape.fields` order, the lease slot at `slotField`), before the admission decides, with
    /// the settlement's arithmetic: leases released from the slot (no more than it holds) and
    /// from the live count, token deltas added to the stored window and the one before it. The
    /// caller's counters are then written as a batch writes them, in full only when the window
    /// before changed (its count is not among a steady batch's writes). A folding plan's
    /// `fast` entry gets the same arithmetic, read from the riding section (`ra`) directly.
    static func applyMergedLua(_ shape: Shape, slotField: Int) -> String {
        var lua = "    local m = merged[lkey]\n    if m then\n"
        lua += releaseLua(shape, slotField: slotField, held: "m.leased[slot_n] and", count: "m.leased[slot_n]")
        for (j, window) in shape.tokenStems.enumerated() {
            guard let i = shape.fields.firstIndex(of: window.stem + "i") else { continue }
            let (index, current, previous) = (i + 1, i + 2, i + 3)
            lua += """
                      do
                        local d, si = m.deltas[\(j + 1)], tonumber(s[\(index)])
                        if d and si and d[si] then s[\(current)] = (tonumber(s[\(current)]) or 0) + d[si] end
                        if d and si and d[si - 1] then
                          s[\(previous)] = (tonumber(s[\(previous)]) or 0) + d[si - 1]
                          s.rolled = true
                        end
                      end

                """
        }
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
        for window in shape.tokenStems {
            guard let i = shape.fields.firstIndex(of: window.stem + "i") else { continue }
            let (index, current, previous) = (i + 1, i + 2, i + 3)
            lua += """
                      if delta ~= 0 then
                        local x, si = floor(at / \(window.window)), tonumber(s[\(index)])
                        if si == x then
                          s[\(current)] = (tonumber(s[\(current)]) or 0) + delta
                        elseif si == x + 1 then
                          s[\(previous)] = (tonumber(s[\(previous)]) or 0) + delta
                          s.rolled = true
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
        guard shape.holdsLease, let cn = shape.fields.firstIndex(of: "cn") else { return "" }
        return """
                  local held = \(held) tonumber(s[\(slotField)])
                  if held then
                    local r = math.min(held, \(count))
                    s[\(slotField)] = held - r
                    if held == r then s.emptied = true end
                    if s[\(cn + 1)] then s[\(cn + 1)] = math.max(0, tonumber(s[\(cn + 1)]) - r) end
                  end

            """
    }
}
