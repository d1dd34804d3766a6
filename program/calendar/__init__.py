"""Calendar: ICS building (pure: activities → bytes), personal feeds, invites."""
