import GatewayCore
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        // 64 bytes exactly: the padding spills into a second block.
        (String(repeating: "a", count: 64), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
    ])
    func knownVectors(_ input: String, _ expected: String) {
        #expect(SHA256.hex(input.utf8) == expected)
    }

    @Test func aMillionAs() {
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func hexRoundTripsAndComparesInConstantTimeShape() {
        let digest = SHA256.digest("key".utf8)
        #expect(Hex.decode(Hex.encode(digest)) == digest)
        #expect(Hex.decode("ABcd") == [0xab, 0xcd])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.constantTimeEqual(digest, digest))
        #expect(!Hex.constantTimeEqual(digest, SHA256.digest("kez".utf8)))
        #expect(!Hex.constantTimeEqual(digest, Array(digest.dropLast())))
    }
}
