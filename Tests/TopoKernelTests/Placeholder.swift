import Testing
@Test func placeholderTopoKernel() { #expect(Bool(true)) }
