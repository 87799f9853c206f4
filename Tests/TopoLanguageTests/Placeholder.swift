import Testing
@Test func placeholderTopoLanguage() { #expect(Bool(true)) }
