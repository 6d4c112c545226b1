package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/events"
)

// The services answer NATS service discovery ($SRV.PING, $SRV.INFO,
// $SRV.STATS: what "nats service ls", "info" and "stats" ask) with micro's
// own types, one endpoint per service whatever the number of tables: the
// replies stay the same size at 10 tables and at 10,000. The endpoint's
// figures are the plane's (every table's requests, errors and processing
// time together); its subject is the plane's pattern, of which the node
// subscribes the subjects of the tables it owns.

// service is one of the three services as discovery shows it.
type service struct {
	name, id, description string
	plane                 string
	endpoint              string            // the endpoint's name
	subject               string            // the endpoint's subject (pattern)
	endpointMeta          map[string]string // fixed part of the endpoint's metadata
}

// discover subscribes the discovery subjects of every service (micro's
// three forms per verb: all services, by name, by name and id).
func (s *Services) discover() error {
	for _, svc := range s.services {
		for _, verb := range []micro.Verb{micro.PingVerb, micro.InfoVerb, micro.StatsVerb} {
			for _, subj := range [][2]string{{"", ""}, {svc.name, ""}, {svc.name, svc.id}} {
				subject, err := micro.ControlSubject(verb, subj[0], subj[1])
				if err != nil {
					return err
				}
				sub, err := s.nc.Subscribe(subject, s.discoveryHandler(svc, verb))
				if err != nil {
					return fmt.Errorf("services: subscribe %s: %w", subject, err)
				}
				s.discoverySubs = append(s.discoverySubs, sub)
			}
		}
	}
	return nil
}

// discoveryHandler answers verb for svc.
func (s *Services) discoveryHandler(svc *service, verb micro.Verb) nats.MsgHandler {
	return func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var v any
		switch verb {
		case micro.PingVerb:
			v = micro.Ping{ServiceIdentity: s.identity(svc), Type: micro.PingResponseType}
		case micro.InfoVerb:
			v = s.info(svc)
		case micro.StatsVerb:
			v = s.serviceStats(svc)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return // the types are micro's own: they always encode
		}
		_ = s.nc.Publish(m.Reply, b)
	}
}

func (s *Services) identity(svc *service) micro.ServiceIdentity {
	return micro.ServiceIdentity{
		Name: svc.name, ID: svc.id, Version: s.opts.Version,
		Metadata: map[string]string{"node": s.node, "prefix": s.opts.Prefix},
	}
}

// info is svc's $SRV.INFO reply.
func (s *Services) info(svc *service) micro.Info {
	meta := maps.Clone(svc.endpointMeta)
	if svc.plane != planeNode {
		meta["tables"] = strconv.Itoa(s.tableCount(svc.plane))
	}
	return micro.Info{
		ServiceIdentity: s.identity(svc),
		Type:            micro.InfoResponseType,
		Description:     svc.description,
		Endpoints:       []micro.EndpointInfo{{Name: svc.endpoint, Subject: svc.subject, QueueGroup: queueGroup, Metadata: meta}},
	}
}

// serviceStats is svc's $SRV.STATS reply.
func (s *Services) serviceStats(svc *service) micro.Stats {
	c := s.stats[svc.plane]
	data, _ := json.Marshal(c.snapshot(s.tableCount(svc.plane)))
	n := c.requests.Load()
	spent := time.Duration(c.processing.Load())
	var avg time.Duration
	if n > 0 {
		avg = spent / time.Duration(n)
	}
	return micro.Stats{
		ServiceIdentity: s.identity(svc),
		Type:            micro.StatsResponseType,
		Started:         s.started,
		Endpoints: []*micro.EndpointStats{{
			Name: svc.endpoint, Subject: svc.subject, QueueGroup: queueGroup,
			NumRequests: int(n), NumErrors: int(c.errors.Load()), LastError: c.snapshot(0).LastError,
			ProcessingTime: spent, AverageProcessingTime: avg, Data: data,
		}},
	}
}

// newServiceID is a service instance's id (micro's are unique strings too).
func newServiceID() string { return strings.ReplaceAll(events.NewID(), "-", "") }

// unsubscribeAll removes subs, joining the errors.
func unsubscribeAll(subs []*nats.Subscription) error {
	var errs []error
	for _, sub := range subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			errs = append(errs, fmt.Errorf("unsubscribe %s: %w", sub.Subject, err))
		}
	}
	return errors.Join(errs...)
}
