import Testing
@Test func placeholderTopoCLI() { #expect(Bool(true)) }
