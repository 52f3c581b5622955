package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// SecretRotation moves the consumers of a Secret family in one namespace to a version,
// gated by health and analysis, and keeps the journal of doing so in its status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=srot
// +kubebuilder:printcolumn:name="Family",type=string,JSONPath=`.spec.family`
// +kubebuilder:printcolumn:name="Target",type=string,JSONPath=`.spec.target`
// +kubebuilder:printcolumn:name="Current",type=string,JSONPath=`.status.targetVersion`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=`.status.step`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SecretRotation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RotationSpec   `json:"spec"`
	Status RotationStatus `json:"status,omitempty"`
}

// SecretRotationList is a list of rotations (the history of a family).
//
// +kubebuilder:object:root=true
type SecretRotationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecretRotation `json:"items"`
}

// Action is what a rotation does.
//
// +kubebuilder:validation:Enum=Rollout;Rollback
type Action string

// Actions.
const (
	// ActionRollout moves consumers to spec.target.
	ActionRollout Action = "Rollout"
	// ActionRollback moves them back: to spec.target when set, else each to the version
	// it had before the rotation named in spec.reverts.
	ActionRollback Action = "Rollback"
)

// StrategyType is how consumers move.
//
// +kubebuilder:validation:Enum=rolling;bluegreen
type StrategyType string

// Strategies.
const (
	// Rolling re-points every consumer at once; each rolls out by its own update
	// strategy.
	Rolling StrategyType = "rolling"
	// BlueGreen runs a green copy of each Deployment on the new version beside it and
	// shifts replicas to it in steps; at 100 % the original is re-pointed.
	BlueGreen StrategyType = "bluegreen"
)

// LatestTarget asks for the newest version of the family in the namespace; the
// version it resolved to is status.targetVersion.
const LatestTarget = "latest"

// RotationSpec is what was asked.
//
// The rules below are checked by the API server when a SecretRotation is created or
// changed (CEL), so a bad spec is refused at admission with a message saying what to
// write instead; the ConfigMap journal is never admitted and is checked by the engine.
//
// +kubebuilder:validation:XValidation:rule="self.action != 'Rollout' || (has(self.target) && size(self.target) > 0)",message="a rollout needs a target: spec.target is a version name (FAMILY-YYYYMMDDHHMMSS) or latest"
// +kubebuilder:validation:XValidation:rule="!has(self.target) || size(self.target) == 0 || self.target == 'latest' || (self.target.startsWith(self.family + '-') && self.target.substring(size(self.family) + 1).matches('^[0-9]{14}$'))",message="spec.target must be latest or a version of spec.family, named FAMILY-YYYYMMDDHHMMSS (UTC), e.g. auth-api-secrets-20250723110000"
// +kubebuilder:validation:XValidation:rule="!has(self.reverts) || self.action == 'Rollback'",message="spec.reverts is for action Rollback only; to roll back with a SecretRotation, set spec.target to the version to go back to"
// +kubebuilder:validation:XValidation:rule="!has(self.watch) || has(self.analysis)",message="spec.watch keeps an analysis running after the rotation: it needs spec.analysis"
type RotationSpec struct {
	// Family is the Secret family: versions are named FAMILY-YYYYMMDDHHMMSS.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=238
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.family cannot change: create another SecretRotation for another family"
	Family string `json:"family"`
	// Target is a version name, or "latest". Empty for a rollback that reverses the
	// rotation named in Reverts.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Target string `json:"target,omitempty"`
	// Action is Rollout (the default) or Rollback.
	// +optional
	// +kubebuilder:default=Rollout
	Action Action `json:"action,omitempty"`
	// Reverts names the rotation (in the same namespace) a rollback reverses: its
	// journal says which version each consumer had before.
	// +optional
	Reverts string `json:"reverts,omitempty"`
	// Scope narrows the consumers; empty selects every consumer of the family in the
	// namespace.
	// +optional
	Scope Scope `json:"scope,omitempty"`
	// Strategy is how consumers move.
	// +optional
	Strategy Strategy `json:"strategy,omitempty"`
	// Analysis gates every step (and, with a duration, the finished rotation) on
	// metrics.
	// +optional
	Analysis *Analysis `json:"analysis,omitempty"`
	// Paused stops the engine at the next step boundary until it is cleared.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// NoRollback leaves consumers on the new version when a step fails.
	// +optional
	NoRollback bool `json:"noRollback,omitempty"`
	// AllowDrift re-points consumers that a GitOps tool or Helm manages, which will
	// revert the change at its next sync.
	// +optional
	AllowDrift bool `json:"allowDrift,omitempty"`
	// GitOps makes the rotation's changes commits in a git repository that a GitOps
	// engine (Flux, Argo CD) applies, instead of live patches: a re-point is a commit
	// (pushed when Push is set) rotor then waits to see in the cluster, a rollback a
	// revert commit. Steps, health and analysis are judged as for a live rotation.
	// +optional
	GitOps *GitOpsSpec `json:"gitops,omitempty"`
	// Timeout is the deadline of the whole rotation from its start (default 30m). A
	// rollback it triggers gets the same length again.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('10s')",message="spec.timeout must be a duration of at least 10s, written like 30m or 1h30m"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// Watch keeps an analysis running this long after the rotation succeeded.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) > duration('0s')",message="spec.watch must be a positive duration, written like 24h or 90m"
	Watch *metav1.Duration `json:"watch,omitempty"`
	// Run groups the batches one command started (one per namespace and version).
	// +optional
	Run string `json:"run,omitempty"`
	// Batch is this rotation's place in its run, from 0.
	// +optional
	Batch int32 `json:"batch,omitempty"`
	// Adopt also moves consumers that name the unversioned Secret called exactly
	// spec.family: the migration of a team still on one mutable Secret to versions
	// (rotor adopt). Its rollback returns them to that Secret.
	// +optional
	Adopt bool `json:"adopt,omitempty"`
	// Verify runs a verification Job against the new version after the last step; its
	// success is part of the rotation's health (a failure rolls back).
	// +optional
	Verify *Verify `json:"verify,omitempty"`
	// Window limits when the rotation may begin a step: outside every maintenance
	// window it stops at the next step boundary and waits for the next window, or
	// fails, as Window.OnEnd says. Nil: any time.
	// +optional
	Window *WindowPolicy `json:"window,omitempty"`
	// Environment says which environment of rotor.yaml the rotation belongs to, the
	// rotations it was promoted from, and the overrides (break-glass, window) it was
	// started with. Informational for the engine; the promotion gate reads it.
	// +optional
	Environment *EnvironmentInfo `json:"environment,omitempty"`
}

// Verify names the Job template of a verification.
type Verify struct {
	// Job is a Job or CronJob in the rotation's namespace used as a template: rotor
	// creates a Job from its pod template with every reference to the family pointed
	// at the new version (and ROTOR_FAMILY, ROTOR_VERSION, ROTOR_NAMESPACE set in each
	// container), and waits for it to complete or fail, as Argo Rollouts' job metric
	// provider does.
	// +kubebuilder:validation:MinLength=1
	Job string `json:"job"`
}

// Window-end policies.
const (
	// WindowWait stops at the next step boundary and waits for the next window.
	WindowWait = "wait"
	// WindowFail stops at the next step boundary and fails (rolling back).
	WindowFail = "fail"
)

// WindowPolicy is when a rotation may take its steps.
type WindowPolicy struct {
	// Windows are recurring maintenance windows; any of them open is enough.
	// +kubebuilder:validation:MinItems=1
	Windows []MaintenanceWindow `json:"windows"`
	// OnEnd is what a rotation still running when its window ends does at the next
	// step boundary: wait (default) or fail.
	// +optional
	// +kubebuilder:validation:Enum=wait;fail
	OnEnd string `json:"onEnd,omitempty"`
}

// MaintenanceWindow is one recurring window, as rotor.yaml writes it.
type MaintenanceWindow struct {
	// Days are the days it starts on (Mon…Sun); empty is every day.
	// +optional
	Days []string `json:"days,omitempty"`
	// Start and End are wall-clock times HH:MM in TimeZone; an End not after Start
	// crosses midnight; End may be 24:00.
	Start string `json:"start"`
	End   string `json:"end"`
	// TimeZone is an IANA name such as Europe/Berlin.
	TimeZone string `json:"timeZone"`
}

// EnvironmentInfo ties a rotation to an environment of rotor.yaml.
type EnvironmentInfo struct {
	// Name is the environment.
	Name string `json:"name"`
	// Context is the kube context of this rotation's cluster when the environment
	// names contexts ("" for the current context).
	// +optional
	Context string `json:"context,omitempty"`
	// PromotedFrom are the rotations, in the environments this one requires, whose
	// success allowed it to start.
	// +optional
	PromotedFrom []RotationLink `json:"promotedFrom,omitempty"`
	// BreakGlass is set when the promotion gate was overridden.
	// +optional
	BreakGlass *Override `json:"breakGlass,omitempty"`
	// IgnoredWindow is set when the rotation was started outside every maintenance
	// window on purpose.
	// +optional
	IgnoredWindow *Override `json:"ignoredWindow,omitempty"`
}

// RotationLink names a rotation in another environment (and cluster).
type RotationLink struct {
	Environment string `json:"environment"`
	// +optional
	Context   string `json:"context,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Run is the rotation ID (spec.run) the linked rotation belongs to.
	// +optional
	Run string `json:"run,omitempty"`
	// Version is the version it moved consumers to.
	// +optional
	Version string `json:"version,omitempty"`
	// Finished is when it finished; SoakEnded when its soak ended.
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
	// +optional
	SoakEnded *metav1.Time `json:"soakEnded,omitempty"`
}

// Override records a policy deliberately overridden: by whom, why, and what it
// overrode.
type Override struct {
	By     string      `json:"by"`
	Reason string      `json:"reason,omitempty"`
	At     metav1.Time `json:"at"`
	// Overrode lists the conditions that were not met.
	// +optional
	Overrode []string `json:"overrode,omitempty"`
}

// GitOpsSpec says where a rotation through git writes.
type GitOpsSpec struct {
	// Path is the directory of manifests, relative to the repository's top ("" or "."
	// for all of it).
	// +optional
	Path string `json:"path,omitempty"`
	// Push sends each commit to Remote's Branch; without it the commits stay in the
	// local clone (a GitOps engine that reads the clone's repository sees them).
	// +optional
	Push bool `json:"push,omitempty"`
	// Remote and Branch are where commits are pushed (default: the branch's upstream).
	// +optional
	Remote string `json:"remote,omitempty"`
	// +optional
	Branch string `json:"branch,omitempty"`
}

// Scope narrows the consumers of a rotation.
type Scope struct {
	// Selector matches consumers by their labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Workloads are kind/name pairs; empty selects all.
	// +optional
	Workloads []WorkloadRef `json:"workloads,omitempty"`
}

// WorkloadRef names a consumer by kind and name.
type WorkloadRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Strategy says how consumers move.
//
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || size(self.steps) == 0 || self.type == 'bluegreen'",message="spec.strategy.steps are blue-green steps: set spec.strategy.type to bluegreen, or remove the steps"
// +kubebuilder:validation:XValidation:rule="!has(self.pause) || self.type == 'bluegreen'",message="spec.strategy.pause is the pause after each blue-green step: set spec.strategy.type to bluegreen, or remove the pause"
// +kubebuilder:validation:XValidation:rule="!has(self.steps) || size(self.steps) == 0 || (self.steps.isSorted() && self.steps.all(s, self.steps.indexOf(s) == self.steps.lastIndexOf(s)) && self.steps[size(self.steps) - 1] == 100)",message="spec.strategy.steps must increase and end at 100, e.g. [10, 50, 100]"
type Strategy struct {
	// Type is rolling (default) or bluegreen.
	// +optional
	// +kubebuilder:default=rolling
	Type StrategyType `json:"type,omitempty"`
	// Steps are the percentages of replicas on the new version at each blue-green step,
	// increasing, ending at 100.
	// +optional
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=100
	// +kubebuilder:validation:MaxItems=20
	Steps []int32 `json:"steps,omitempty"`
	// Pause is how long each blue-green step is watched once healthy.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.strategy.pause must be a duration, written like 5m or 30s"
	Pause *metav1.Duration `json:"pause,omitempty"`
}

// Analysis is a metric analysis in the Argo Rollouts AnalysisTemplate schema.
//
// +kubebuilder:validation:XValidation:rule="has(self.templateRef) != has(self.inline)",message="spec.analysis needs exactly one of templateRef (an AnalysisTemplate or ClusterAnalysisTemplate in the cluster) and inline (the template itself)"
type Analysis struct {
	// TemplateRef names an AnalysisTemplate or ClusterAnalysisTemplate in the cluster.
	// +optional
	TemplateRef *TemplateRef `json:"templateRef,omitempty"`
	// Inline is the AnalysisTemplate itself, as JSON.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Inline *runtime.RawExtension `json:"inline,omitempty"`
	// Args fill {{args.NAME}}; family, version and namespace are set by rotor.
	// +optional
	Args []AnalysisArg `json:"args,omitempty"`
	// Duration keeps the analysis evaluating this long after the last step; a failure
	// still rolls back.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+(\\\\.[0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.analysis.duration must be a duration, written like 30m"
	Duration *metav1.Duration `json:"duration,omitempty"`
	// Inconclusive says what an inconclusive verdict does: Fail (default) or Pause
	// (wait for a person to decide).
	// +optional
	// +kubebuilder:validation:Enum=Fail;Pause
	Inconclusive string `json:"inconclusive,omitempty"`
}

// Inconclusive policies.
const (
	InconclusiveFail  = "Fail"
	InconclusivePause = "Pause"
)

// TemplateRef names an analysis template.
type TemplateRef struct {
	// Kind is AnalysisTemplate (in the rotation's namespace) or ClusterAnalysisTemplate.
	// +kubebuilder:validation:Enum=AnalysisTemplate;ClusterAnalysisTemplate
	Kind string `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// AnalysisArg is one argument.
type AnalysisArg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Private marks an argument given from a file or the environment, as credentials
	// are: its value is not recorded (Value is empty), and the run that drives the
	// rotation supplies it again.
	Private bool `json:"private,omitempty"`
}

// Phase is where a rotation stands.
//
// +kubebuilder:validation:Enum=Pending;Progressing;Paused;Analysing;Succeeded;Failed;RollingBack;RolledBack;Aborted
type Phase string

// Phases. Succeeded, Failed, RolledBack and Aborted are final.
const (
	Pending     Phase = "Pending"
	Progressing Phase = "Progressing"
	Paused      Phase = "Paused"
	Analysing   Phase = "Analysing"
	Succeeded   Phase = "Succeeded"
	Failed      Phase = "Failed"
	RollingBack Phase = "RollingBack"
	RolledBack  Phase = "RolledBack"
	Aborted     Phase = "Aborted"
)

// Final reports whether nothing more happens to a rotation in this phase.
func (p Phase) Final() bool {
	switch p {
	case Succeeded, Failed, RolledBack, Aborted:
		return true
	}
	return false
}

// RotationStatus is the journal.
type RotationStatus struct {
	// ObservedGeneration is the spec generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is where the rotation stands.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Message says why, in a sentence (the failure, what was rolled back).
	// +optional
	Message string `json:"message,omitempty"`
	// TargetVersion is the version spec.target resolved to ("" when consumers of a
	// rollback go to different versions).
	// +optional
	TargetVersion string `json:"targetVersion,omitempty"`
	// Planned is set once the consumers were found and their changes worked out.
	// +optional
	Planned bool `json:"planned,omitempty"`
	// Step is the current step, from 0 (a rolling rotation has one).
	// +optional
	Step int32 `json:"step"`
	// Steps are the steps' weights (percent); a rolling rotation has [100].
	// +optional
	Steps []int32 `json:"steps,omitempty"`
	// StepStarted is when the current step's change was applied; StepHealthy when all
	// its workloads were first seen healthy.
	// +optional
	StepStarted *metav1.Time `json:"stepStarted,omitempty"`
	// +optional
	StepHealthy *metav1.Time `json:"stepHealthy,omitempty"`
	// Consumers are the objects that move, each with where it came from and goes to.
	// +optional
	Consumers []ConsumerStatus `json:"consumers,omitempty"`
	// Green are the green copies of a blue-green rotation, with the original size of
	// each blue Deployment (recorded before anything is scaled).
	// +optional
	Green []GreenStatus `json:"green,omitempty"`
	// Intent is what the engine is about to do: written before every change to the
	// cluster, cleared once it is done. A rotation found with an intent was stopped in
	// the middle of that action.
	// +optional
	Intent *Intent `json:"intent,omitempty"`
	// Gates are the verdicts of the step gates (analysis), newest last.
	// +optional
	Gates []GateResult `json:"gates,omitempty"`
	// PendingDecision is an inconclusive verdict waiting for a person (phase Paused).
	// +optional
	PendingDecision *GateResult `json:"pendingDecision,omitempty"`
	// Failure says which object or gate failed, and why.
	// +optional
	Failure *Failure `json:"failure,omitempty"`
	// AbortRequested asks the engine to roll back at the next step (Ctrl-C); the
	// rotation then ends Aborted.
	// +optional
	AbortRequested bool `json:"abortRequested,omitempty"`
	// Started, Repointed (every reference changed), Healthy (every consumer healthy
	// on the new version), Finished and Deadline time the rotation.
	// +optional
	Started *metav1.Time `json:"started,omitempty"`
	// +optional
	Repointed *metav1.Time `json:"repointed,omitempty"`
	// +optional
	Healthy *metav1.Time `json:"healthy,omitempty"`
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`
	// Checklist are timestamped milestones (created, started, each step, all on the
	// new version, finished…), in order.
	// +optional
	Checklist []ChecklistEntry `json:"checklist,omitempty"`
	// Conditions are Ready, Reconciling and Stalled, in kstatus form.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// By is who started the rotation; Driver is the process advancing it now.
	// +optional
	By string `json:"by,omitempty"`
	// +optional
	Driver *Driver `json:"driver,omitempty"`
	// RevertedBy names the rollback that reversed this rotation.
	// +optional
	RevertedBy string `json:"revertedBy,omitempty"`
	// Commits are the changes a rotation through git made (spec.gitops), oldest first:
	// the commit of each re-point and of each revert.
	// +optional
	Commits []SourceChange `json:"commits,omitempty"`
	// Watch is the post-rotation watch window, so a restarted watch continues it.
	// +optional
	Watch *WatchStatus `json:"watch,omitempty"`
	// WindowOpens is set while the rotation waits at a step boundary for its next
	// maintenance window (spec.window), which opens then.
	// +optional
	WindowOpens *metav1.Time `json:"windowOpens,omitempty"`
}

// ConsumerStatus is one object that moves.
type ConsumerStatus struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion,omitempty"`
	Name       string `json:"name"`
	UID        string `json:"uid,omitempty"`
	// From is the version it named before the rotation; To the one it moves to.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	// PreviousAnnotation is its previous-version annotation before the rotation
	// ("" when it had none), put back by a rollback of this rotation.
	// +optional
	PreviousAnnotation string `json:"previousAnnotation,omitempty"`
	// Skip marks consumers that are reported but not patched (a running Job, a bare
	// Pod); Note says why or how it changes.
	// +optional
	Skip bool `json:"skip,omitempty"`
	// +optional
	Note string `json:"note,omitempty"`
	// Rolls is set for kinds that roll pods out and are waited on.
	// +optional
	Rolls bool `json:"rolls,omitempty"`
	// Judge is the object whose rollout shows this consumer's re-point, when it is
	// another (the Argo Rollout whose workloadRef takes its template from this
	// Deployment).
	// +optional
	Judge *WorkloadRef `json:"judge,omitempty"`
	// Drift names the tool that manages the consumer (Argo CD, Flux, Helm) when it was
	// re-pointed live anyway (spec.allowDrift): that tool will revert it.
	// +optional
	Drift string `json:"drift,omitempty"`
	// Observed is the version the cluster last showed it naming; State its rollout
	// state then.
	// +optional
	Observed string `json:"observed,omitempty"`
	// +optional
	State string `json:"state,omitempty"`
	// Restored is set once a rollback of this rotation put it back on From.
	// +optional
	Restored bool `json:"restored,omitempty"`
}

// GreenStatus is the green copy of one blue Deployment.
type GreenStatus struct {
	// Of is the blue Deployment; Name its green copy.
	Of   string `json:"of"`
	Name string `json:"name"`
	// Replicas is the blue Deployment's size before the rotation.
	Replicas int32 `json:"replicas"`
}

// SourceChange is one change rotor made in the source a GitOps engine applies (a git
// commit) instead of patching the cluster.
type SourceChange struct {
	// Action is Repoint (towards the rotation's target) or Restore (a revert, back to
	// where consumers came from).
	Action string `json:"action"`
	// Step is the step it belongs to.
	Step int32 `json:"step"`
	// Commit is the commit's hash.
	Commit string `json:"commit"`
	// Objects are the objects whose references it changes, as Kind/name.
	// +optional
	Objects []string `json:"objects,omitempty"`
	// Files are the files it changed, relative to the repository's top.
	// +optional
	Files []string `json:"files,omitempty"`
	// Pushed is set once the commit was pushed.
	// +optional
	Pushed bool `json:"pushed,omitempty"`
	// Reused is set when the manifests already said this (an earlier run made the
	// commit): Commit is then the commit that did.
	// +optional
	Reused bool        `json:"reused,omitempty"`
	At     metav1.Time `json:"at"`
	// Applied is when the cluster was first seen to show it (the GitOps engine applied
	// it).
	// +optional
	Applied *metav1.Time `json:"applied,omitempty"`
}

// Intent is an action the engine is about to take.
type Intent struct {
	// Action is e.g. Repoint, CreateGreen, Scale, Restore, DeleteGreen.
	Action string `json:"action"`
	// Step is the step it belongs to.
	Step int32 `json:"step"`
	// Objects are the objects it writes, as Kind/name.
	// +optional
	Objects []string `json:"objects,omitempty"`
	// Detail says it in a sentence.
	// +optional
	Detail string      `json:"detail,omitempty"`
	At     metav1.Time `json:"at"`
}

// GateResult is one gate's verdict on one step.
type GateResult struct {
	Step int32  `json:"step"`
	Gate string `json:"gate"`
	// Post is set for the analysis after the last step (spec.analysis.duration).
	// +optional
	Post bool `json:"post,omitempty"`
	// Phase is Running, Successful, Failed, Inconclusive or Error.
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// +optional
	Measurements []MeasurementSummary `json:"measurements,omitempty"`
	// +optional
	Started *metav1.Time `json:"started,omitempty"`
	// +optional
	Finished *metav1.Time `json:"finished,omitempty"`
}

// MeasurementSummary is one value behind a verdict (never a Secret value).
type MeasurementSummary struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Phase  string `json:"phase"`
	Detail string `json:"detail,omitempty"`
	// +optional
	At *metav1.Time `json:"at,omitempty"`
}

// Failure says what failed.
type Failure struct {
	// Object is "Deployment/web", "gate analysis", or "" for the rotation as a whole.
	// +optional
	Object string `json:"object,omitempty"`
	Reason string `json:"reason"`
}

// ChecklistEntry is one timestamped milestone.
type ChecklistEntry struct {
	Name string      `json:"name"`
	At   metav1.Time `json:"at"`
	// By is who did it, when someone else than the rotation's starter.
	// +optional
	By string `json:"by,omitempty"`
	// Detail says more in a sentence: the window it ran in, the rollback command, the
	// rotation of another environment it refers to.
	// +optional
	Detail string `json:"detail,omitempty"`
}

// Driver is the process advancing a rotation.
type Driver struct {
	// Kind is cli, controller or gitops.
	Kind string `json:"kind"`
	// Identity is unique per process (user, host, pid and a random part).
	Identity string `json:"identity"`
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
}

// WatchStatus is a post-rotation watch window.
type WatchStatus struct {
	Started  metav1.Time `json:"started"`
	Duration string      `json:"duration"`
	// Analysis is a digest of the analysis definition with its arguments, so a restart
	// with other arguments starts a new window.
	// +optional
	Analysis string `json:"analysis,omitempty"`
	// +optional
	Phase string `json:"phase,omitempty"`
}
