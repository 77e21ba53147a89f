package tracekit

import (
	"fmt"

	"github.com/gin-gonic/gin"
)

// GinMiddleware traces every request of a Gin engine as HTTPMiddleware does
// for net/http, naming the span after the route template, as in
// "GET /users/:id". Register it with Use before the routes. Errors handlers
// attach with c.Error are recorded as exception events.
func (s *SDK) GinMiddleware() gin.HandlerFunc {
	if s == nil {
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		r := c.Request
		route := c.FullPath()
		var name string
		if route != "" {
			name = r.Method + " " + route
		} else {
			name = r.Method + " " + r.URL.Path
		}
		ctx, span := s.startServerSpan(r, name)
		c.Request = r.WithContext(ctx)
		if !span.IsRecording() {
			c.Next()
			return
		}
		defer func() {
			v := recover()
			if v != nil {
				recordPanic(span, v)
			}
			for _, e := range c.Errors {
				addExceptionEvent(span, fmt.Sprintf("%T", e.Err), e.Error(), nil)
			}
			status := 0 // unknown after a panic before the response
			if c.Writer.Written() || v == nil {
				status = c.Writer.Status()
			}
			s.endServerSpan(span, c.Request, route, status)
			if v != nil {
				panic(v)
			}
		}()
		c.Next()
	}
}
