package procscan

// SetScanShare sets the fewest processes worth a goroutine of In's scan,
// so that tests reach its parallel path on a quiet host; the returned
// function restores it.
func SetScanShare(n int) (restore func()) {
	old := scanShare
	scanShare = n
	return func() { scanShare = old }
}
