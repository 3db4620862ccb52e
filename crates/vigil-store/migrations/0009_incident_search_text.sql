-- The incident list's text search: title and summary case-folded by the store itself (every
-- alphabet, not only the ASCII letters SQLite's LOWER and LIKE fold), so "сервер" finds
-- "Сервер". NULL until the store has computed it: rows of an older database are filled when
-- the store opens.
ALTER TABLE incidents ADD COLUMN search_text TEXT;
