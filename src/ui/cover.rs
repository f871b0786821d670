//! Cover art embedded in a song: decoded from PNG or JPEG bytes.
