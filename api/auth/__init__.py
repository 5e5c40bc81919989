"""Token checks: terminals sign their own tokens; people come with identity-provider tokens."""
