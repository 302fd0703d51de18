package probe

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPathsHandlerWithoutProber(t *testing.T) {
	rec := httptest.NewRecorder()
	PathsHandler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/paths", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "{\n  \"paths\": []\n}\n" {
		t.Errorf("%d %q, want 200 and an empty list", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	PathsHandler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/v1/paths", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}
