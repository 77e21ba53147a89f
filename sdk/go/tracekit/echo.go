package tracekit

import (
	"fmt"

	"github.com/labstack/echo/v4"
)

// EchoMiddleware traces every request of an Echo server as HTTPMiddleware
// does for net/http, naming the span after the route template, as in
// "GET /users/:id". Register it with Use before the routes. An error a
// handler returns is recorded as an exception event and passed to Echo's
// error handler here, so that the span sees the status it produces.
func (s *SDK) EchoMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if s == nil {
			return next
		}
		return func(c echo.Context) (err error) {
			r := c.Request()
			route := c.Path()
			var name string
			if route != "" {
				name = r.Method + " " + route
			} else {
				name = r.Method + " " + r.URL.Path
			}
			ctx, span := s.startServerSpan(r, name)
			c.SetRequest(r.WithContext(ctx))
			if !span.IsRecording() {
				return next(c)
			}
			defer func() {
				v := recover()
				if v != nil {
					recordPanic(span, v)
				}
				status := 0 // unknown after a panic before the response
				if resp := c.Response(); resp.Committed || v == nil {
					status = resp.Status
				}
				s.endServerSpan(span, c.Request(), route, status)
				if v != nil {
					panic(v)
				}
			}()
			if err = next(c); err != nil {
				addExceptionEvent(span, fmt.Sprintf("%T", err), err.Error(), nil)
				// The error handler writes the response; run it now rather
				// than after the span ends. It skips committed responses, so
				// Echo calling it again with err is harmless.
				c.Error(err)
			}
			return err
		}
	}
}
