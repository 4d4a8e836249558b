"""Auth session and the sync engine that reconciles the local mirror with the user's Supabase project."""
