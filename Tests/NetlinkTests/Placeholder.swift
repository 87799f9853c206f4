import Testing
@Test func placeholderNetlink() { #expect(Bool(true)) }
