package bench

// The structs below are the baseline decode: every field Entra ID's
// diagnostic settings send in a sign-in (or audit) record, decoded with
// encoding/json the ordinary way. They are what a straightforward
// implementation would decode before applying the rule.

// Body is one Event Hub event body.
type Body struct {
	Records []Record `json:"records"`
}

// Record is one sign-in or audit record.
type Record struct {
	Time              string     `json:"time"`
	ResourceID        string     `json:"resourceId"`
	OperationName     string     `json:"operationName"`
	OperationVersion  string     `json:"operationVersion"`
	Category          string     `json:"category"`
	TenantID          string     `json:"tenantId"`
	ResultType        string     `json:"resultType"`
	ResultSignature   string     `json:"resultSignature"`
	ResultDescription string     `json:"resultDescription"`
	DurationMs        int64      `json:"durationMs"`
	CallerIPAddress   string     `json:"callerIpAddress"`
	CorrelationID     string     `json:"correlationId"`
	Identity          string     `json:"identity"`
	Level             int        `json:"Level"`
	Location          string     `json:"location"`
	Properties        Properties `json:"properties"`
}

// Properties is the record's properties object.
type Properties struct {
	ID                               string            `json:"id"`
	CreatedDateTime                  string            `json:"createdDateTime"`
	UserDisplayName                  string            `json:"userDisplayName"`
	UserPrincipalName                string            `json:"userPrincipalName"`
	UserID                           string            `json:"userId"`
	AppID                            string            `json:"appId"`
	AppDisplayName                   string            `json:"appDisplayName"`
	IPAddress                        string            `json:"ipAddress"`
	Status                           Status            `json:"status"`
	ClientAppUsed                    string            `json:"clientAppUsed"`
	UserAgent                        string            `json:"userAgent"`
	DeviceDetail                     DeviceDetail      `json:"deviceDetail"`
	Location                         Location          `json:"location"`
	CorrelationID                    string            `json:"correlationId"`
	ConditionalAccessStatus          string            `json:"conditionalAccessStatus"`
	AppliedConditionalAccessPolicies []CAPolicy        `json:"appliedConditionalAccessPolicies"`
	AuthenticationDetails            []AuthDetail      `json:"authenticationDetails"`
	AuthenticationProcessingDetails  []KeyValue        `json:"authenticationProcessingDetails"`
	AuthenticationRequirement        string            `json:"authenticationRequirement"`
	AuthenticationProtocol           string            `json:"authenticationProtocol"`
	IsInteractive                    bool              `json:"isInteractive"`
	TokenIssuerType                  string            `json:"tokenIssuerType"`
	RiskDetail                       string            `json:"riskDetail"`
	RiskLevelAggregated              string            `json:"riskLevelAggregated"`
	RiskLevelDuringSignIn            string            `json:"riskLevelDuringSignIn"`
	RiskState                        string            `json:"riskState"`
	RiskEventTypesV2                 []string          `json:"riskEventTypes_v2"`
	ResourceDisplayName              string            `json:"resourceDisplayName"`
	ResourceID                       string            `json:"resourceId"`
	ResourceTenantID                 string            `json:"resourceTenantId"`
	HomeTenantID                     string            `json:"homeTenantId"`
	AppOwnerTenantID                 string            `json:"appOwnerTenantId"`
	ResourceOwnerTenantID            string            `json:"resourceOwnerTenantId"`
	UniqueTokenIdentifier            string            `json:"uniqueTokenIdentifier"`
	SessionID                        string            `json:"sessionId"`
	UserType                         string            `json:"userType"`
	IncomingTokenType                string            `json:"incomingTokenType"`
	TokenProtectionStatusDetails     TokenProtection   `json:"tokenProtectionStatusDetails"`
	NetworkLocationDetails           []NetworkLocation `json:"networkLocationDetails"`
	ProcessingTimeInMilliseconds     int64             `json:"processingTimeInMilliseconds"`
	AutonomousSystemNumber           int64             `json:"autonomousSystemNumber"`
	ServicePrincipalID               string            `json:"servicePrincipalId"`
	ServicePrincipalName             string            `json:"servicePrincipalName"`
	ClientCredentialType             string            `json:"clientCredentialType"`
	ManagedIdentityType              string            `json:"managedIdentityType"`
	Category                         string            `json:"category"`
	ActivityDateTime                 string            `json:"activityDateTime"`
	ActivityDisplayName              string            `json:"activityDisplayName"`
	AdditionalDetails                []KeyValue        `json:"additionalDetails"`
	InitiatedBy                      InitiatedBy       `json:"initiatedBy"`
	LoggedByService                  string            `json:"loggedByService"`
	OperationType                    string            `json:"operationType"`
	Result                           string            `json:"result"`
	ResultReason                     string            `json:"resultReason"`
	TargetResources                  []TargetResource  `json:"targetResources"`
}

// Status is properties.status.
type Status struct {
	ErrorCode         int64  `json:"errorCode"`
	FailureReason     string `json:"failureReason"`
	AdditionalDetails string `json:"additionalDetails"`
}

// DeviceDetail is properties.deviceDetail.
type DeviceDetail struct {
	DeviceID        string `json:"deviceId"`
	DisplayName     string `json:"displayName"`
	OperatingSystem string `json:"operatingSystem"`
	Browser         string `json:"browser"`
	IsCompliant     bool   `json:"isCompliant"`
	IsManaged       bool   `json:"isManaged"`
	TrustType       string `json:"trustType"`
}

// Location is properties.location.
type Location struct {
	City            string `json:"city"`
	State           string `json:"state"`
	CountryOrRegion string `json:"countryOrRegion"`
	GeoCoordinates  struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
	} `json:"geoCoordinates"`
}

// CAPolicy is one applied conditional access policy.
type CAPolicy struct {
	ID                      string   `json:"id"`
	DisplayName             string   `json:"displayName"`
	EnforcedGrantControls   []string `json:"enforcedGrantControls"`
	EnforcedSessionControls []string `json:"enforcedSessionControls"`
	Result                  string   `json:"result"`
	ConditionsSatisfied     int      `json:"conditionsSatisfied"`
	ConditionsNotSatisfied  int      `json:"conditionsNotSatisfied"`
}

// AuthDetail is one authentication step.
type AuthDetail struct {
	AuthenticationStepDateTime     string `json:"authenticationStepDateTime"`
	AuthenticationMethod           string `json:"authenticationMethod"`
	AuthenticationMethodDetail     string `json:"authenticationMethodDetail"`
	Succeeded                      bool   `json:"succeeded"`
	AuthenticationStepResultDetail string `json:"authenticationStepResultDetail"`
	AuthenticationStepRequirement  string `json:"authenticationStepRequirement"`
}

// KeyValue is a key/value detail.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// TokenProtection is properties.tokenProtectionStatusDetails.
type TokenProtection struct {
	SignInSessionStatus     string `json:"signInSessionStatus"`
	SignInSessionStatusCode int    `json:"signInSessionStatusCode"`
}

// NetworkLocation is one network location detail.
type NetworkLocation struct {
	NetworkType  string   `json:"networkType"`
	NetworkNames []string `json:"networkNames"`
}

// InitiatedBy is an audit record's initiator.
type InitiatedBy struct {
	User *struct {
		ID                string  `json:"id"`
		DisplayName       *string `json:"displayName"`
		UserPrincipalName string  `json:"userPrincipalName"`
		IPAddress         string  `json:"ipAddress"`
	} `json:"user"`
}

// TargetResource is an audit record's target.
type TargetResource struct {
	ID                 string `json:"id"`
	DisplayName        string `json:"displayName"`
	Type               string `json:"type"`
	ModifiedProperties []struct {
		DisplayName string `json:"displayName"`
		OldValue    string `json:"oldValue"`
		NewValue    string `json:"newValue"`
	} `json:"modifiedProperties"`
}
