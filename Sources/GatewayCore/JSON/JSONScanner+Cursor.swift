extension JSONScanner {
    /// A read position over a borrowed byte buffer with the RFC 8259 grammar as mutating methods.
    /// Lives on the stack for one scan and never outlives the buffer; every read is bounds-checked
    /// against `end`, so malformed or truncated input can only produce a `JSONSyntaxError`.
    struct Cursor {
        let base: UnsafeRawPointer
        let end: Int
        var position = 0

        init(base: UnsafeRawPointer, end: Int) {
            self.base = base
            self.end = end
        }

        @inline(__always)
        func byte(_ index: Int) -> UInt8 {
            base.load(fromByteOffset: index, as: UInt8.self)
        }

        /// RFC 8259 whitespace is exactly space, tab, LF and CR.
        @inline(__always)
        mutating func skipWhitespace() {
            // Compact bodies have no whitespace between tokens: one comparison settles it.
            if position < end, byte(position) > 0x20 { return }
            while position < end {
                switch byte(position) {
                case 0x20, 0x0A, 0x0D, 0x09: position &+= 1
                default: return
                }
            }
        }

        /// Throws unless only whitespace remains.
        mutating func expectEndOfDocument() throws(JSONSyntaxError) {
            skipWhitespace()
            if position != end {
                throw JSONSyntaxError(offset: position, reason: "unexpected data after the top-level value")
            }
        }

        /// Skips whitespace and returns the next byte without consuming it; throws at the end.
        /// `what` is a StaticString so the hot path never touches a String's reference count.
        @inline(__always)
        mutating func peekSignificant(expecting what: StaticString) throws(JSONSyntaxError) -> UInt8 {
            skipWhitespace()
            guard position < end else { throw Self.endOfInput(at: end, expecting: what) }
            return byte(position)
        }

        @inline(never)
        static func endOfInput(at offset: Int, expecting what: StaticString) -> JSONSyntaxError {
            JSONSyntaxError(offset: offset, reason: "unexpected end of input, expected \(what)")
        }

        /// Reads `"key"` and the `:` after it, leaving the cursor before the member's value.
        mutating func scanMemberKey() throws(JSONSyntaxError) -> StringToken {
            let first = try peekSignificant(expecting: "a string key")
            guard first == UInt8(ascii: "\"") else {
                let reason = first == UInt8(ascii: "}") ? "trailing comma in object" : "expected a string key"
                throw JSONSyntaxError(offset: position, reason: reason)
            }
            let key = try scanString()
            guard try peekSignificant(expecting: "':'") == UInt8(ascii: ":") else {
                throw JSONSyntaxError(offset: position, reason: "expected ':' after object key")
            }
            position &+= 1
            return key
        }

        /// After a member or element: consumes `,` (returns true) or the closing bracket (false).
        @inline(__always)
        mutating func scanSeparator(inObject: Bool) throws(JSONSyntaxError) -> Bool {
            let next = try peekSignificant(expecting: inObject ? "',' or '}'" : "',' or ']'")
            if next == UInt8(ascii: ",") {
                position &+= 1
                return true
            }
            if next == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                position &+= 1
                return false
            }
            throw JSONSyntaxError(offset: position, reason: inObject ? "expected ',' or '}'" : "expected ',' or ']'")
        }

        /// Validates and skips one complete value. `enclosingDepth` counts the containers already
        /// open around it. Iterative with a bit stack rather than recursive, so a hostile
        /// document costs no stack and the depth check is one comparison.
        mutating func skipValue(enclosingDepth: Int) throws(JSONSyntaxError) {
            var kinds = ContainerKinds()
            var open = 0  // containers opened by this call
            while true {
                // Here a value must start.
                let first = try peekSignificant(expecting: "a value")
                var valueIsComplete = true
                switch first {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    let isObject = first == UInt8(ascii: "{")
                    guard enclosingDepth &+ open < JSONScanner.maxDepth else {
                        throw JSONSyntaxError(offset: position, reason: "nesting deeper than \(JSONScanner.maxDepth)")
                    }
                    position &+= 1
                    open &+= 1
                    kinds.set(level: open, isObject: isObject)
                    let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if try peekSignificant(expecting: isObject ? "a key or '}'" : "a value or ']'") == close {
                        position &+= 1
                        open &-= 1
                    } else {
                        if isObject { _ = try scanMemberKey() }
                        valueIsComplete = false
                    }
                case UInt8(ascii: "\""):
                    _ = try scanString()
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    _ = try scanNumber()
                case UInt8(ascii: "t"): try scanLiteral("true")
                case UInt8(ascii: "f"): try scanLiteral("false")
                case UInt8(ascii: "n"): try scanLiteral("null")
                default:
                    throw JSONSyntaxError(offset: position, reason: "expected a value")
                }
                guard valueIsComplete else { continue }
                // A value ended: close finished containers until one continues with ','.
                while true {
                    if open == 0 { return }
                    let inObject = kinds.isObject(level: open)
                    if try scanSeparator(inObject: inObject) {
                        if inObject {
                            _ = try scanMemberKey()
                        } else if try peekSignificant(expecting: "a value") == UInt8(ascii: "]") {
                            throw JSONSyntaxError(offset: position, reason: "trailing comma in array")
                        }
                        break
                    }
                    open &-= 1
                }
            }
        }

        /// Consumes exactly `word` (true, false, null).
        mutating func scanLiteral(_ word: StaticString) throws(JSONSyntaxError) {
            let count = word.utf8CodeUnitCount
            guard end &- position >= count else {
                throw JSONSyntaxError(offset: position, reason: "invalid literal")
            }
            let expected = word.utf8Start
            for index in 0..<count where byte(position &+ index) != expected[index] {
                throw JSONSyntaxError(offset: position, reason: "invalid literal")
            }
            position &+= count
        }

        /// Validates `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and returns its extent.
        /// What may follow the number is the caller's grammar, not the number's.
        mutating func scanNumber() throws(JSONSyntaxError) -> NumberToken {
            let start = position
            var index = position
            if byte(index) == UInt8(ascii: "-") { index &+= 1 }
            guard index < end, isDigit(byte(index)) else {
                throw JSONSyntaxError(offset: start, reason: "invalid number")
            }
            if byte(index) == UInt8(ascii: "0") {
                index &+= 1
                if index < end, isDigit(byte(index)) {
                    throw JSONSyntaxError(offset: start, reason: "leading zero in number")
                }
            } else {
                index = skipDigits(from: index)
            }
            var isInteger = true
            if index < end, byte(index) == UInt8(ascii: ".") {
                index &+= 1
                guard index < end, isDigit(byte(index)) else {
                    throw JSONSyntaxError(offset: start, reason: "invalid number: no digit after '.'")
                }
                index = skipDigits(from: index)
                isInteger = false
            }
            if index < end, byte(index) | 0x20 == UInt8(ascii: "e") {
                index &+= 1
                if index < end, byte(index) == UInt8(ascii: "+") || byte(index) == UInt8(ascii: "-") {
                    index &+= 1
                }
                guard index < end, isDigit(byte(index)) else {
                    throw JSONSyntaxError(offset: start, reason: "invalid number: no digit in exponent")
                }
                index = skipDigits(from: index)
                isInteger = false
            }
            position = index
            return NumberToken(start: start, end: index, isInteger: isInteger)
        }

        @inline(__always)
        func isDigit(_ value: UInt8) -> Bool { value &- UInt8(ascii: "0") < 10 }

        @inline(__always)
        func skipDigits(from start: Int) -> Int {
            var index = start
            while index < end, isDigit(byte(index)) { index &+= 1 }
            return index
        }

        /// The value of an integer token, or nil when it has a fraction or exponent or does not fit `Int`.
        func integerValue(of token: NumberToken) -> Int? {
            guard token.isInteger else { return nil }
            var index = token.start
            let negative = byte(index) == UInt8(ascii: "-")
            if negative { index &+= 1 }
            var magnitude: UInt = 0
            while index < token.end {
                let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(UInt(byte(index) &- UInt8(ascii: "0")))
                if overflow1 || overflow2 { return nil }
                magnitude = sum
                index &+= 1
            }
            if negative {
                return magnitude <= UInt(Int.max) &+ 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil
            }
            return magnitude <= UInt(Int.max) ? Int(magnitude) : nil
        }
    }

    /// The extent of a number token in the buffer.
    struct NumberToken {
        var start: Int
        var end: Int
        var isInteger: Bool
    }

    /// One bit per open container (1 = object), enough for `maxDepth` levels without allocating.
    struct ContainerKinds {
        private var low: UInt64 = 0
        private var high: UInt64 = 0

        @inline(__always)
        mutating func set(level: Int, isObject: Bool) {
            let bit = level &- 1
            if bit < 64 {
                let mask: UInt64 = 1 << UInt64(bit)
                low = isObject ? low | mask : low & ~mask
            } else {
                let mask: UInt64 = 1 << UInt64(bit &- 64)
                high = isObject ? high | mask : high & ~mask
            }
        }

        @inline(__always)
        func isObject(level: Int) -> Bool {
            let bit = level &- 1
            return bit < 64 ? low & (1 << UInt64(bit)) != 0 : high & (1 << UInt64(bit &- 64)) != 0
        }
    }
}
